"""The supplier REST API's shared machinery (docs/api.md).

Resource views subclass ``config.api.views.SupplierApiView`` and get, from here: API-key
authentication (``authentication``), scopes (``permissions``), per-key rate limits
(``throttling``), RFC 9457 problem details (``errors``), keyset pagination
(``pagination``), ``Idempotency-Key`` replay (``idempotency``) and deprecation
headers (``deprecation``).
"""
