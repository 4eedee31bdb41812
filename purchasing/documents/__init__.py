"""B2B documents: what suppliers send as files (CSV, Excel, X12, EDIFACT) and what we send back.

Each format has a parser module that turns a file into the shapes of ``shapes.py`` (the
same shipment and acknowledgement whatever the format) and, for EDI, writers of our
outbound documents. Parsers never touch the database: ``purchasing.documents.intake``
stores the document and calls the same services as the web forms.
"""
