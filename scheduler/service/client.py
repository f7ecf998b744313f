"""Typed HTTP client of the scheduler API (used by ``stic job``; works with any httpx transport)."""

from __future__ import annotations

from typing import Any

import httpx


class SchedulerAPIError(RuntimeError):
    """A non-2xx answer; ``status`` and ``body`` are the server's."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


class SchedulerClient:
    """Jobs, nodes and queues over HTTP. ``tenant_id`` defaults to the caller's own tenant."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
            timeout=timeout,
        )
        self._tenant: str | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        body: Any = response.json() if response.content else None
        if response.status_code >= 400:
            raise SchedulerAPIError(response.status_code, body)
        return body

    def tenant_id(self) -> str:
        """The caller's tenant (from ``/v1/me``)."""
        if self._tenant is None:
            self._tenant = str(self._call("GET", "/v1/me")["tenant_id"])
        return self._tenant

    def _jobs(self, tenant: str | None) -> str:
        return f"/v1/tenants/{tenant or self.tenant_id()}/jobs"

    def submit(self, spec: dict[str, Any], *, tenant: str | None = None) -> dict[str, Any]:
        """Submit a job spec (a ``JobCreate`` mapping)."""
        return dict(self._call("POST", self._jobs(tenant), json=spec))

    def list_jobs(
        self, *, state: str | None = None, tenant: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Jobs of the tenant, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if state:
            params["state"] = state
        return list(self._call("GET", self._jobs(tenant), params=params)["items"])

    def resolve(self, job: str, *, tenant: str | None = None) -> str:
        """A job id from an id or a job name."""
        if job.startswith("job_"):
            return job
        for item in self.list_jobs(tenant=tenant, limit=500):
            if item["name"] == job:
                return str(item["id"])
        raise SchedulerAPIError(404, {"message": f"no job named '{job}'"})

    def get(self, job: str, *, tenant: str | None = None) -> dict[str, Any]:
        """One job with its tasks."""
        return dict(self._call("GET", f"{self._jobs(tenant)}/{self.resolve(job, tenant=tenant)}"))

    def events(self, job: str, *, tenant: str | None = None) -> list[dict[str, Any]]:
        """The job's events, oldest first."""
        path = f"{self._jobs(tenant)}/{self.resolve(job, tenant=tenant)}/events"
        return list(self._call("GET", path, params={"limit": 500})["items"])

    def logs(
        self, job: str, task: str, *, attempt: int | None = None, tenant: str | None = None
    ) -> dict[str, Any]:
        """The end of a task's output."""
        params = {} if attempt is None else {"attempt": attempt}
        path = f"{self._jobs(tenant)}/{self.resolve(job, tenant=tenant)}/tasks/{task}/logs"
        return dict(self._call("GET", path, params=params))

    def action(self, job: str, verb: str, *, tenant: str | None = None) -> dict[str, Any]:
        """``start``, ``suspend`` or ``resume`` a job."""
        return dict(self._call("POST", f"{self._jobs(tenant)}/{self.resolve(job, tenant=tenant)}/{verb}"))

    def delete(self, job: str, *, tenant: str | None = None) -> None:
        """Cancel (if unfinished) and delete a job."""
        self._call("DELETE", f"{self._jobs(tenant)}/{self.resolve(job, tenant=tenant)}")

    def nodes(self) -> list[dict[str, Any]]:
        """Every node."""
        return list(self._call("GET", "/v1/nodes", params={"limit": 500})["items"])
