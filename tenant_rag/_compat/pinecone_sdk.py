"""Private parts of the pinecone SDK (7.3.0) that tenant_rag uses, each for a measured reason.

* ``_check_type`` / ``_check_return_type``: keyword arguments of the REST
  ``Index`` methods that switch off the OpenAPI layer's per-value type checks
  (one Python call per float). `PinnedIndex.query` builds every request itself
  and checks every returned record, so the checks add only time per query.
* ``_data_store``: where an OpenAPI model keeps its fields; reading it skips a
  slow ``__getattr__`` per field on every returned record.
* `RestTransport`: ``Index._vector_api.api_client`` (the SDK's connection pool,
  host, headers and key) with ``openapi_support``'s auth and error mapping, so
  ingestion's bulk upserts and fetches can skip the model layer (most of the
  client CPU per record) while raising the SDK's own exceptions.
* ``_IndexAsyncio``: the asyncio index class, to refuse it where a sync handle
  is needed (it is not exported under a public name).
* ``_config``: where older handles keep their host, for metering labels.

Without any of these, tenant_rag still works (the public SDK path is used),
only slower (figures: ``benchmarks/FIGURES.md``); the canaries in
``tests/compat/test_canaries.py`` make that loud.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import orjson

#: Keyword arguments that switch off the SDK's request-side per-value type checks.
SKIP_REQUEST_CHECKS: dict[str, Any] = {"_check_type": False}
#: Keyword arguments that switch off its response-side per-value type checks.
SKIP_RESPONSE_CHECKS: dict[str, Any] = {"_check_return_type": False}
#: Attributes under which a data-plane handle keeps its configuration (host).
CONFIG_ATTRS = ("config", "_config")


def model_fields(obj: Any) -> dict[str, Any] | None:
    """An OpenAPI model's fields as the dict it stores them in, or None (then use getattr)."""
    fields = getattr(obj, "_data_store", None)
    return fields if isinstance(fields, dict) else None


def handle_config(index: Any) -> Any:
    """A data-plane handle's configuration object (``.host``), or None."""
    for attr in CONFIG_ATTRS:
        config = getattr(index, attr, None)
        if config is not None:
            return config
    return None


def is_asyncio_index(index: Any) -> bool:
    """Whether ``index`` is the SDK's ``IndexAsyncio`` (exported under no public class name)."""
    try:
        from pinecone.db_data.index_asyncio import _IndexAsyncio
    except ImportError:  # pragma: no cover - another SDK layout
        return False
    return isinstance(index, _IndexAsyncio)


def rest_index_class() -> type | None:
    """The SDK's synchronous REST ``Index`` class (``pinecone.Index`` is not exported in 7.x)."""
    try:
        from pinecone.db_data.index import Index
    except ImportError:  # pragma: no cover - another SDK layout
        return None
    return Index


class RestTransport:
    """The SDK ``Index``'s connection pool, host and auth headers, for raw JSON requests.

    Raises ``AttributeError``/``ImportError`` at construction when the SDK's
    layout differs, so callers fall back to the SDK's own methods.
    """

    def __init__(self, index: Any) -> None:
        from pinecone.openapi_support.auth_util import AuthUtil
        from pinecone.openapi_support.rest_utils import RESTResponse, raise_exceptions_or_return
        from pinecone.utils.error_handling import validate_and_convert_errors

        api = index._vector_api.api_client
        self._api = api
        self._auth = AuthUtil.update_params_for_auth
        self._response = RESTResponse
        self._check = raise_exceptions_or_return
        self.request: Callable[..., dict[str, Any]] = validate_and_convert_errors(self._request)
        #: as ``request``, but the answer's body as it came (for a caller that parses it itself)
        self.request_raw: Callable[..., bytes] = validate_and_convert_errors(self._send)
        #: GET of an absolute URL (not under the index's host) with the same pool and auth
        self.get_raw: Callable[[str], bytes] = validate_and_convert_errors(
            lambda url: self._send("GET", "", url=url)
        )
        # touch everything now, so a different SDK layout falls back at construction time
        _ = (api.rest_client.pool_manager, api.configuration.host, api.default_headers)

    @property
    def host(self) -> str:
        """The data-plane host the handle sends to (``http://HOST:PORT/_index/<name>`` on the
        embedded server)."""
        return str(self._api.configuration.host)

    @property
    def ca_file(self) -> str | None:
        """The CA bundle the handle verifies TLS hosts with (the SDK's ``ssl_ca_certs``)."""
        ca = getattr(self._api.configuration, "ssl_ca_cert", None)
        return str(ca) if ca else None

    @property
    def api_key(self) -> str | None:
        """The API key the handle sends (for a transport beside it, e.g. gRPC)."""
        keys = getattr(self._api.configuration, "api_key", None) or {}
        key = keys.get("ApiKeyAuth") if isinstance(keys, dict) else None
        return str(key) if key is not None else None

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        data = self._send(method, path, body=body, query=query)
        parsed = orjson.loads(data) if data else {}
        return parsed if isinstance(parsed, dict) else {}

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        query: list[tuple[str, str]] | None = None,
        url: str | None = None,
    ) -> bytes:
        from pinecone.openapi_support.exceptions import PineconeApiException

        api = self._api
        headers = {**api.default_headers, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self._auth(
            configuration=api.configuration,
            endpoint_auth_settings=["ApiKeyAuth"],
            headers=headers,
            querys=[],
        )
        if url is None:
            url = api.configuration.host.rstrip("/") + path
        if query:
            url += "?" + urlencode(query, quote_via=quote)  # as the SDK encodes its queries
        r = api.rest_client.pool_manager.request(method, url, body=body, headers=headers)
        try:
            self._check(self._response(r.status, r.data, r.headers, r.reason))
        except PineconeApiException as exc:  # as the SDK's ApiClient does
            if isinstance(exc.body, bytes):
                exc.body = exc.body.decode("utf-8", "replace")
            raise
        return bytes(r.data or b"")
