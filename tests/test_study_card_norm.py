"""migrations/0002_study_card_norm.sql: the text normaliser, the same under any locale."""

import pytest

CASES = [
    # (input, expected)
    ("제2정규형", "제2정규형"),                                  # Korean kept intact
    ("제 2 정규형", "제2정규형"),                                # spacing
    ("제2\t정규형\n", "제2정규형"),                              # tabs and newlines
    ("ＡＣＩＤ　성질", "acid성질"),                               # full-width Latin and ideographic space
    ("１２３４５", "12345"),                                     # full-width digits
    ("ㄱㄴㄷ", "\u1100\u1102\u1103"),                            # compatibility jamo -> conjoining jamo (NFKC)
    ("Transaction ISOLATION Level", "transactionisolationlevel"),  # case
    ("SQL: SELECT * FROM t;", "sqlselectfromt"),                 # punctuation and symbols
    ("「트랜잭션」의 원자성(Atomicity)", "트랜잭션의원자성atomicity"),  # CJK brackets, parentheses
    ("10,000건", "10000건"),                                     # thousands separator
    ("3.5%", "35"),                                              # decimal point and percent sign
    ("TCP/IP 4계층", "tcpip4계층"),                              # slash
    ("“인용”과 '따옴표'", "인용과따옴표"),                        # curly and straight quotes
    ("…정말?!", "정말"),                                         # ellipsis and marks
    ("㎞와 ㎏", "km와kg"),                                       # compatibility unit squares
    ("Ⅳ장", "iv장"),                                            # roman numeral compatibility form
    ("데이터베이스 🙂 정규화", "데이터베이스정규화"),              # emoji
    ("Ｃ＋＋ vs C++", "cvsc"),                                   # full-width symbols
    ("", ""),                                                    # empty stays empty
    # invisible characters (default-ignorable code points) are removed
    ("원\u1160자성", "원자성"),                                  # Hangul jungseong filler
    ("원\u3164자성", "원자성"),                                  # Hangul filler (NFKC: U+1160)
    ("원\uFFA0자성", "원자성"),                                  # half-width Hangul filler (NFKC: U+1160)
    ("\u115F원자성", "원자성"),                                  # Hangul choseong filler
    ("원\u200B자\u00AD성\uFEFF", "원자성"),                       # zero-width space, soft hyphen, BOM
    ("\u202E성자원\u202C", "성자원"),                              # bidi controls go; logical order stays
    ("SEL\u034FECT\U000E0041", "select"),                       # grapheme joiner, tag character
    ("\u1100\u200B\u1161", "가"),                               # jamo split by a zero-width space compose
    # an answer made of operator symbols is itself; prose punctuation alone is nothing
    ("||", "||"),
    ("> =", ">="),
    ("<>", "<>"),
    ("->", "->"),
    ("%", "%"),
    ("＋", "+"),                                                 # full-width plus (NFKC)
    ("≤", "≤"),
    ("_", "_"),                                                  # LIKE's one-character wildcard
    (".", "."),                                                  # C's member operator, alone
    ("...", ""),
    ("?", ""),
    ("?!…", ""),
    ("「」", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_study_card_norm(db, text, expected):
    assert db.execute("SELECT study_card_norm(%s)", (text,)).fetchone()[0] == expected


def test_study_card_norm_is_null_for_null(db):
    assert db.execute("SELECT study_card_norm(NULL)").fetchone()[0] is None


@pytest.mark.parametrize("collation", ["C", "POSIX", "C.utf8", "ucs_basic"])
def test_study_card_norm_does_not_depend_on_the_collation(db, collation):
    text = "ＡＣＩＤ 트랜잭션: 원자성(Atomicity) 10,000건"
    plain = db.execute("SELECT study_card_norm(%s)", (text,)).fetchone()[0]
    collated = db.execute(f'SELECT study_card_norm(%s COLLATE "{collation}")', (text,)).fetchone()[0]
    assert collated == plain == "acid트랜잭션원자성atomicity10000건"
