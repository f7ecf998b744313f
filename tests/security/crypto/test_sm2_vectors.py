"""GB/T 32918 worked examples (Annex A of parts 2 and 3) and the recommended-curve signature example.

The fixed-nonce examples run on the pure ``gmssl`` backend, the only one that accepts an
explicit nonce and another curve; every installed backend then verifies the published
recommended-curve signature.
"""

from __future__ import annotations

import pytest

from security.crypto import SM2PrivateKey
from security.crypto.sm2.backends.base import SM2Backend
from security.crypto.sm2.backends.gmssl_backend import GmsslBackend
from security.crypto.sm2.curve import CurveParams, compute_z
from security.crypto.sm2.encoding import signature_from_der, signature_to_der
from security.crypto.sm2.keyexchange import SM2KeyExchange
from security.crypto.sm3 import sm3_digest


def h(text: str) -> int:
    """Parse hex as printed in the standards (spaces between 32-bit words)."""
    return int(text.replace(" ", ""), 16)


# The 256-bit prime-field example curve of GB/T 32918.2/.3/.4 Annex A (not the recommended curve).
EXAMPLE_CURVE = CurveParams(
    name="gbt32918-annex-a-fp256",
    p=h("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3"),
    a=h("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498"),
    b=h("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A"),
    n=h("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7"),
    gx=h("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D"),
    gy=h("0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2"),
)

# GB/T 32918.2-2016 Annex A.2 (example curve, ID "ALICE123@YAHOO.COM").
SIGN_D = h("128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263")
SIGN_X = h("0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A")
SIGN_Y = h("7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857")
SIGN_Z = "F4A38489 E32B45B6 F876E3AC 2168CA39 2362DC8F 23459C1D 1146FC3D BFB7BC9A"
SIGN_E = "B524F552 CD82B8B0 28476E00 5C377FB1 9A87E6FC 682D48BB 5D42E3D9 B9EFFE76"
SIGN_K = h("6CB28D99 385C175C 94F94E93 4817663F C176D925 DD72B727 260DBAAE 1FB2F96F")
SIGN_R = h("40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1")
SIGN_S = h("6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7")

# Recommended curve sm2p256v1, default ID 1234567812345678, message "message digest".
P256_D = h("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
P256_X = h("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020")
P256_Y = h("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
P256_K = h("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21")
P256_R = h("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
P256_S = h("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")


def _hex(value: str) -> str:
    return value.replace(" ", "").lower()


def test_gbt32918_2_annex_a_signature_on_example_curve() -> None:
    gm = GmsslBackend(EXAMPLE_CURVE)
    public = gm.public_from_private(SIGN_D)
    assert public == (SIGN_X, SIGN_Y)
    z = compute_z(public, b"ALICE123@YAHOO.COM", EXAMPLE_CURVE)
    assert z.hex() == _hex(SIGN_Z)
    e = sm3_digest(z + b"message digest")
    assert e.hex() == _hex(SIGN_E)
    signature = gm.sign_digest_with_nonce(gm.load_private(SIGN_D, public), e, SIGN_K)
    assert signature is not None
    assert signature_from_der(signature) == (SIGN_R, SIGN_S)
    assert gm.verify_digest(gm.load_public(public), e, signature)
    assert not gm.verify_digest(gm.load_public(public), sm3_digest(z + b"message digesT"), signature)


def test_recommended_curve_signature_with_fixed_nonce() -> None:
    key = SM2PrivateKey.from_int(P256_D)
    assert key.public_key().point == (P256_X, P256_Y)
    gm = GmsslBackend()
    digest = key.public_key().message_digest(b"message digest")
    signature = gm.sign_digest_with_nonce(gm.load_private(P256_D, key.public_key().point), digest, P256_K)
    assert signature == signature_to_der(P256_R, P256_S)


def test_every_backend_verifies_the_published_signature(backend: SM2Backend) -> None:
    public = SM2PrivateKey.from_int(P256_D).public_key()
    signature = signature_to_der(P256_R, P256_S)
    assert public.verify(signature, b"message digest", backend=backend)
    assert not public.verify(signature, b"message digest!", backend=backend)
    assert not public.verify(signature, b"message digest", uid=b"ALICE123@YAHOO.COM", backend=backend)


# GB/T 32918.3-2016 Annex A.2 (example curve, klen = 128 bits).
KX_ID_A, KX_ID_B = b"ALICE123@YAHOO.COM", b"BILL456@YAHOO.COM"
KX_D_A = h("6FCBA2EF 9AE0AB90 2BC3BDE3 FF915D44 BA4CC78F 88E2F8E7 F8996D3B 8CCEEDEE")
KX_D_B = h("5E35D7D3 F3C54DBA C72E6181 9E730B01 9A84208C A3A35E4C 2E353DFC CB2A3B53")
KX_R_A = h("83A2C9C8 B96E5AF7 0BD480B4 72409A9A 327257F1 EBB73F5B 073354B2 48668563")
KX_R_B = h("33FE2194 0342161C 55619C4A 0C060293 D543C80A F19748CE 176D8347 7DE71C80")
KX_PUB_A = (
    h("3099093B F3C137D8 FCBBCDF4 A2AE50F3 B0F216C3 122D7942 5FE03A45 DBFE1655"),
    h("3DF79E8D AC1CF0EC BAA2F2B4 9D51A4B3 87F2EFAF 48233908 6A27A8E0 5BAED98B"),
)
KX_PUB_B = (
    h("245493D4 46C38D8C C0F11837 4690E7DF 633A8A4B FB3329B5 ECE604B2 B4F37F43"),
    h("53C0869F 4B9E1777 3DE68FEC 45E14904 E0DEA45B F6CECF99 18C85EA0 47C60A4C"),
)
KX_RA_POINT = (
    "04 6CB56338 16F4DD56 0B1DEC45 8310CBCC 6856C095 05324A6D 23150C40 8F162BF0"
    " 0D6FCF62 F1036C0A 1B6DACCF 57399223 A65F7D7B F2D9637E 5BBBEB85 7961BF1A"
)
KX_RB_POINT = (
    "04 1799B2A2 C7782953 00D9A232 5C686129 B8F2B533 7B3DCF45 14E8BBC1 9D900EE5"
    " 54C9288C 82733EFD F7808AE7 F27D0E73 2F7C73A7 D9AC98B7 D8740A91 D0DB3CF4"
)
KX_KEY = "55B0AC62 A6B927BA 23703832 C853DED4"
KX_S_B = "284C8F19 8F141B50 2E81250F 1581C7E9 EEB4CA69 90F9E02D F388B454 71F5BC5C"
KX_S_A = "23444DAF 8ED75343 66CB901C 84B3BDBB 63504F40 65C1116C 91A4C006 97E6CF7A"


def test_gbt32918_3_annex_a_key_exchange_on_example_curve() -> None:
    gm = GmsslBackend(EXAMPLE_CURVE)
    alice = SM2KeyExchange.with_parameters(
        d=KX_D_A, initiator=True, uid=KX_ID_A, curve=EXAMPLE_CURVE, backend=gm, ephemeral=KX_R_A
    )
    bob = SM2KeyExchange.with_parameters(
        d=KX_D_B, initiator=False, uid=KX_ID_B, curve=EXAMPLE_CURVE, backend=gm, ephemeral=KX_R_B
    )
    assert alice.ephemeral_public.hex() == _hex(KX_RA_POINT)
    assert bob.ephemeral_public.hex() == _hex(KX_RB_POINT)
    at_bob = bob.derive(
        peer_public=KX_PUB_A, peer_ephemeral=alice.ephemeral_public, peer_uid=KX_ID_A, length=16
    )
    at_alice = alice.derive(
        peer_public=KX_PUB_B, peer_ephemeral=bob.ephemeral_public, peer_uid=KX_ID_B, length=16
    )
    assert at_bob.key.hex() == at_alice.key.hex() == _hex(KX_KEY)
    assert at_bob.confirmation.hex() == _hex(KX_S_B)
    assert at_alice.confirmation.hex() == _hex(KX_S_A)
    at_alice.check_peer(at_bob.confirmation)
    at_bob.check_peer(at_alice.confirmation)


@pytest.mark.parametrize("d", [SIGN_D, KX_D_A])
def test_example_public_keys_lie_on_the_example_curve(d: int) -> None:
    from security.crypto.sm2.curve import is_on_curve

    assert is_on_curve(GmsslBackend(EXAMPLE_CURVE).public_from_private(d), EXAMPLE_CURVE)
