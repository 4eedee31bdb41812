"""X12 4010 for B2B documents: 856 ship notices and 855 acknowledgements in, 997 and 850 out.

No third-party EDI library: ``tokenizer`` streams segments with the delimiters the ISA names,
``envelope`` checks ISA/GS/ST nesting, counts and control numbers as they pass, the mappers
(``ship_notice``, ``acknowledgement``) build the shapes, and ``writers`` write our documents.
"""

from purchasing.documents.x12.envelope import Envelope, X12TransactionSet
from purchasing.documents.x12.problems import ProblemLog, X12DocumentError
from purchasing.documents.x12.reader import parse
from purchasing.documents.x12.tokenizer import Delimiters, Segment, tokenize
from purchasing.documents.x12.writers import functional_ack_997, purchase_order_850

__all__ = [
    "Delimiters",
    "Envelope",
    "ProblemLog",
    "Segment",
    "X12DocumentError",
    "X12TransactionSet",
    "functional_ack_997",
    "parse",
    "purchase_order_850",
    "tokenize",
]
