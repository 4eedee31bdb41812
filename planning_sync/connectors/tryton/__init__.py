"""The Tryton ERP connector: acknowledgements and shipment notices out (connector.py), purchases, receipts
and inventory in (pull.py), over Tryton's JSON-RPC (rpc.py)."""
