"""Any external OpenAI-compatible URL as a replica: nothing to start or stop, only to check."""

from __future__ import annotations

import httpx

from inference.engines.base import Replica, ReplicaSpec
from inference.engines.errors import EngineConfigError, EngineStartError


class OpenAICompatEngine:
    """Wraps ``spec.url`` (an API base ending in ``/v1``, as the ``openai`` SDK's ``base_url``).

    Health is ``GET {root}/health`` when the upstream has it (vLLM, SGLang, the builtin engine),
    else ``GET {url}/models`` with the API key (OpenAI itself and most proxies). ``metrics_url`` is
    ``{root}/metrics`` only when that answers; otherwise ``None``. ``http`` is the test seam.
    """

    name = "openai"

    def __init__(self, *, http: httpx.AsyncClient | None = None, timeout_s: float = 10.0) -> None:
        self._http = http
        self._timeout_s = timeout_s

    async def start(self, spec: ReplicaSpec) -> Replica:
        """Probe the upstream and describe it; raises :class:`EngineStartError` if it does not answer."""
        if not spec.url or not spec.url.startswith(("http://", "https://")):
            raise EngineConfigError(f"the openai engine needs spec.url (http[s]://.../v1), got {spec.url!r}")
        api_base = spec.url.rstrip("/")
        root = api_base.removesuffix("/v1")
        headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
        http = self._http or httpx.AsyncClient(timeout=self._timeout_s)
        try:
            health_url = await self._first_ok(http, [f"{root}/health", f"{api_base}/models"], headers)
            if health_url is None:
                raise EngineStartError(f"{api_base} answers neither {root}/health nor {api_base}/models")
            metrics_url = await self._first_ok(http, [f"{root}/metrics"], headers)
        finally:
            if self._http is None:
                await http.aclose()
        return Replica(
            engine=self.name,
            served_model_name=spec.served_model_name,
            api_base=api_base,
            health_url=health_url,
            metrics_url=metrics_url,
            api_key=spec.api_key,
        )

    @staticmethod
    async def _first_ok(http: httpx.AsyncClient, urls: list[str], headers: dict[str, str]) -> str | None:
        for url in urls:
            try:
                if (await http.get(url, headers=headers)).is_success:
                    return url
            except httpx.HTTPError:
                continue
        return None

    async def stop(self, replica: Replica) -> None:
        """Nothing runs on our side; the external service is left alone."""
        if replica.process is not None:
            raise EngineConfigError("the openai engine never owns a process")
