"""Native backend on ``tongsuopy`` (Tongsuo, the OpenSSL fork with the Chinese algorithms).

Signing uses ``EVP_PKEY_sign`` on the precomputed digest ``e = SM3(Z || M)`` so any signer
ID works; encryption uses ``EVP_PKEY_encrypt`` (DER ``C1C3C2``); key agreement uses
``EC_POINT_mul`` (a constant-time ladder for a single point) and ``EC_POINT_add``.
"""

from __future__ import annotations

from typing import Any

from tongsuopy.backends.tongsuo.backend import backend as _backend
from tongsuopy.crypto.asymciphers import ec

from security.crypto.errors import CryptoError, DecryptionError
from security.crypto.sm2.curve import SM2_P256, Point

_lib = _backend._lib
_ffi = _backend._ffi


class TongsuoBackend:
    """:class:`~security.crypto.sm2.backends.base.SM2Backend` over ``tongsuopy``."""

    name = "tongsuopy"
    native = True
    max_plaintext: int | None = None
    supports_key_exchange = True

    def __init__(self) -> None:
        # A key object owns the SM2 EC_GROUP the point operations below borrow.
        self._group_owner = ec.derive_private_key(1, ec.SM2())
        self._group = _lib.EC_KEY_get0_group(self._group_owner._ec_key)
        _backend.openssl_assert(self._group != _ffi.NULL)

    def load_private(self, d: int, public: Point) -> Any:
        """Return a tongsuopy private key for ``d``; it must reproduce ``public``."""
        key = ec.derive_private_key(d, ec.SM2())
        numbers = key.public_key().public_numbers()
        if (numbers.x, numbers.y) != public:
            raise CryptoError("tongsuopy derived a different public key for this private key")
        return key

    def load_public(self, public: Point) -> Any:
        """Return a tongsuopy public key."""
        return ec.EllipticCurvePublicNumbers(public[0], public[1], ec.SM2()).public_key()

    def public_from_private(self, d: int) -> Point:
        """Return ``d * G``."""
        numbers = ec.derive_private_key(d, ec.SM2()).public_key().public_numbers()
        return numbers.x, numbers.y

    @staticmethod
    def _pkey_ctx(key: Any) -> Any:
        ctx = _lib.EVP_PKEY_CTX_new(key._evp_pkey, _ffi.NULL)
        _backend.openssl_assert(ctx != _ffi.NULL)
        return _ffi.gc(ctx, _lib.EVP_PKEY_CTX_free)

    def sign_digest(self, private: Any, digest: bytes) -> bytes:
        """``EVP_PKEY_sign`` over the 32-byte digest."""
        ctx = self._pkey_ctx(private)
        _backend.openssl_assert(_lib.EVP_PKEY_sign_init(ctx) == 1)
        size = _ffi.new("size_t *", 80)
        buf = _ffi.new("unsigned char[]", 80)
        _backend.openssl_assert(_lib.EVP_PKEY_sign(ctx, buf, size, digest, len(digest)) == 1)
        return _ffi.buffer(buf)[: size[0]]

    def verify_digest(self, public: Any, digest: bytes, signature: bytes) -> bool:
        """``EVP_PKEY_verify``; any failure is a ``False``, never an exception."""
        ctx = self._pkey_ctx(public)
        _backend.openssl_assert(_lib.EVP_PKEY_verify_init(ctx) == 1)
        ok = _lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest))
        if ok != 1:
            _backend._consume_errors()
        return ok == 1

    def encrypt(self, public: Any, plaintext: bytes) -> bytes:
        """``EVP_PKEY_encrypt`` (Tongsuo emits DER ``C1C3C2``)."""
        return self._run(public, plaintext, _lib.EVP_PKEY_encrypt_init, _lib.EVP_PKEY_encrypt, "encrypt")

    def decrypt(self, private: Any, ciphertext: bytes) -> bytes:
        """``EVP_PKEY_decrypt``; a C3 mismatch or a malformed input raises :class:`DecryptionError`."""
        return self._run(private, ciphertext, _lib.EVP_PKEY_decrypt_init, _lib.EVP_PKEY_decrypt, "decrypt")

    def _run(self, key: Any, data: bytes, init: Any, op: Any, what: str) -> bytes:
        ctx = self._pkey_ctx(key)
        _backend.openssl_assert(init(ctx) == 1)
        size = _ffi.new("size_t *")
        if op(ctx, _ffi.NULL, size, data, len(data)) != 1:
            _backend._consume_errors()
            raise DecryptionError(f"SM2 {what} failed in tongsuopy")
        buf = _ffi.new("unsigned char[]", max(size[0], 1))
        if op(ctx, buf, size, data, len(data)) != 1:
            _backend._consume_errors()
            raise DecryptionError(f"SM2 {what} failed in tongsuopy")
        return _ffi.buffer(buf)[: size[0]]

    def agreement_point(self, t: int, peer_public: Point, peer_ephemeral: Point, x_bar: int) -> Point:
        """``[t](P + [x_bar]R)`` with ``EC_POINT_mul`` / ``EC_POINT_add``."""
        with _backend._tmp_bn_ctx() as bn_ctx:
            p = self._ec_point(peer_public, bn_ctx)
            r = self._ec_point(peer_ephemeral, bn_ctx)
            q = self._new_point()
            self._check(_lib.EC_POINT_mul(self._group, q, _ffi.NULL, r, self._bn(x_bar), bn_ctx))
            self._check(_lib.EC_POINT_add(self._group, q, q, p, bn_ctx))
            u = self._new_point()
            self._check(_lib.EC_POINT_mul(self._group, u, _ffi.NULL, q, self._bn(t), bn_ctx))
            if _lib.EC_POINT_is_at_infinity(self._group, u):
                raise CryptoError("SM2 key exchange produced the point at infinity")
            x = _lib.BN_CTX_get(bn_ctx)
            y = _lib.BN_CTX_get(bn_ctx)
            self._check(_lib.EC_POINT_get_affine_coordinates_GFp(self._group, u, x, y, bn_ctx))
            return _backend._bn_to_int(x), _backend._bn_to_int(y)

    def _new_point(self) -> Any:
        point = _lib.EC_POINT_new(self._group)
        _backend.openssl_assert(point != _ffi.NULL)
        return _ffi.gc(point, _lib.EC_POINT_clear_free)

    def _bn(self, value: int) -> Any:
        raw = value.to_bytes(SM2_P256.size, "big")
        bn = _lib.BN_bin2bn(raw, len(raw), _ffi.NULL)
        _backend.openssl_assert(bn != _ffi.NULL)
        _lib.BN_set_flags(bn, _lib.BN_FLG_CONSTTIME)
        return _ffi.gc(bn, _lib.BN_clear_free)

    def _ec_point(self, point: Point, bn_ctx: Any) -> Any:
        out = self._new_point()
        x, y = self._bn(point[0]), self._bn(point[1])
        self._check(_lib.EC_POINT_set_affine_coordinates_GFp(self._group, out, x, y, bn_ctx))
        return out

    @staticmethod
    def _check(result: int) -> None:
        if result != 1:
            _backend._consume_errors()
            raise CryptoError("tongsuopy elliptic-curve operation failed")
