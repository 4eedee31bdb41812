"""The purchasing pages: orders and proposals (orders.py), shipment notices (shipments.py),
B2B documents (documents.py) and expected receipts (receiving.py)."""
