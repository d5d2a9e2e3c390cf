"""sql/38_quantities.sql: the numbers and the names with digits that a text states, and
what its evidence supports. One table per rule, in Korean explanation text (SQL
certification commentary, Korean history, 정보처리기사), each read in one query; every
table holds cases both ways."""

from decimal import Decimal

import psycopg
import pytest


def read(db, function, texts):
    """{text: [canonical quantity, …]} (study_card_quantities) or {text: [name, …]}."""
    query = {
        "quantities": "SELECT ARRAY(SELECT q.quantity FROM study_card_quantities(x.t) AS q ORDER BY q.ord)",
        "names": "SELECT study_card_names(x.t)",
    }[function]
    rows = db.execute(
        query + " FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, i) ORDER BY x.i", (list(texts),)
    ).fetchall()
    return {text: row[0] for text, row in zip(texts, rows)}


def check(db, function, cases):
    """Every case (text, expected list) must read as expected; report all that do not."""
    got = read(db, function, [text for text, _ in cases])
    wrong = [f"{text!r}: expected {expected}, got {got[text]}" for text, expected in cases if got[text] != expected]
    assert wrong == []


# A unit or multiplier counts only when it ends its word (issue 10, section 1 item 2).
UNIT_ENDS_ITS_WORD = [
    # not a unit: the word goes on
    ("WHERE 절의 조건 값이 10 초과인 행만 남긴다", ["10"]),
    ("평균 점수보다 100 만큼 높다", ["100"]),
    ("다음 5 조건을 모두 만족하는 릴레이션", ["5"]),
    ("정규화의 5 개념을 순서대로 정리하면", ["5"]),
    ("3 일반형 문법으로 작성한 질의", ["3"]),
    ("프로젝트 팀은 매주 1 회의를 연다", ["1"]),
    ("7 주요 기능은 다음과 같다", ["7"]),
    ("요구사항 3 분석 단계에서 유스케이스를 도출한다", ["3"]),
    ("등급이 10초과인 경우", ["10"]),                      # 초 takes 와, never 과
    ("릴레이션이 5조건을 만족", ["5"]),                    # 조건 is a noun, not 5조 건
    ("7 주로 사용하는 명령어", ["7"]),                      # 주로 'mostly' after a space
    ("2 주의 사항", ["2"]),
    ("3 세로 길이", ["3"]),
    ("1 회사에 한 명", ["1"]),
    ("5 명령어를 실행한다", ["5"]),
    ("12 시간표를 짠다", ["12"]),
    ("3 세계 대전", ["3"]),
    ("4 분할 정복", ["4"]),
    ("2 배열의 원소", ["2"]),
    ("6 개발자가 참여", ["6"]),
    ("3 층위로 나눈다", ["3"]),
    ("2 초기화 단계", ["2"]),
    ("10 일정 관리", ["10"]),
    ("100만큼 늘었다", ["100"]),
    ("5 백업 주기", ["5"]),
    ("1970년대 초반에 등장했다", ["1970"]),               # the decade is not the year
    ("하루 10,000 건의 요청", ["10000"]),                  # 의 after a spaced unit: 건의 is a noun
    ("전체의 3분의 1이 남는다", ["3", "1"]),              # a fraction, not minutes
    # a unit: alone, or with particles and suffixes after it
    ("응답은 10초에 한 번 갱신된다", ["10초"]),
    ("로그는 3년간 보관한다", ["3년"]),
    ("릴레이션은 5개의 속성으로 구성된다", ["5개"]),
    ("전체의 30%를 차지한다", ["30%"]),
    ("처리 속도가 2배로 늘었다", ["2배"]),
    ("동시 접속자는 1만 명을 넘었다", ["10000명"]),
    ("구축 예산은 3천만 원이다", ["30000000원"]),
    ("임진왜란은 7년 동안 이어졌다", ["7년"]),
    ("하루 2회씩 백업한다", ["2회"]),
    ("운영 팀원은 5명이다", ["5명"]),
    ("도입 비용은 100 만 원이었다", ["1000000원"]),
    ("1만명이 접속했다", ["10000명"]),
    ("100만 명의 사용자", ["1000000명"]),
    ("1회의 검사로 끝난다", ["1회"]),
    ("7주로 나누어 진행", ["7주"]),
    ("2주의 기간", ["2주"]),
    ("만 3세로 제한", ["3세"]),
    ("3 년이 지나면", ["3년"]),
    ("디스크는 최소 3 개가 필요하다", ["3개"]),
    ("3 일간 점검", ["3일"]),
    ("5초 후 재시도", ["5초"]),
    ("5원짜리 동전", ["5원"]),
    ("3개월 이내에 폐기", ["3개월"]),
    ("3분기 실적", ["3분기"]),
    ("창립 3주년 기념", ["3주년"]),
    ("21세기의 정보 사회", ["21세기"]),
    ("10 세대 동안", ["10세대"]),
    ("3층 건물", ["3층"]),
    ("스프린트는 2주에서 4주 정도로 운영", ["2주", "4주"]),
    ("2천억 원 규모", ["200000000000원"]),
    ("5천여 명이 참가", ["5000명"]),
    ("1만에 달한다", ["10000"]),
    ("3년이었다", ["3년"]),
    ("5개씩이다", ["5개"]),
    ("1주일 동안", ["1주"]),
    ("3개년 계획", ["3년"]),
    ("64KB 버퍼와 200ms 응답", ["64KB", "200ms"]),
    ("버퍼는 64 KB의 크기", ["64KB"]),
    ("서버실은 25 ℃로 유지", ["25°C"]),
    ("점유율이 3.5%p 올랐다", ["3.5%p"]),
    ("10만km 주행", ["100000km"]),
    ("조회 시간이 3.50% 줄었고 처리량은 10,000 건이었다", ["3.5%", "10000건"]),
    ("3 퍼센트 증가", ["3%"]),
]


def test_a_unit_or_multiplier_counts_only_when_it_ends_its_word(db):
    assert sum(len(q) == 1 and not q[0][-1].isdigit() for _, q in UNIT_ENDS_ITS_WORD) >= 20
    assert sum(all(x.replace(".", "").isdigit() for x in q) for _, q in UNIT_ENDS_ITS_WORD) >= 20
    check(db, "quantities", UNIT_ENDS_ITS_WORD)


def test_quantities_rows(db):
    rows = db.execute("SELECT * FROM study_card_quantities('하루 10,000 건, 3.50%, 삼 년, 1만 명의')").fetchall()
    assert [tuple(row) for row in rows] == [
        (1, "10,000 건", 10000, "건", "10000건"),
        (2, "3.50%", Decimal("3.50"), "%", "3.5%"),
        (3, "삼 년", 3, "년", "3년"),
        (4, "1만 명", 10000, "명", "10000명"),
    ]
    assert db.execute("SELECT count(*) FROM study_card_quantities(NULL)").fetchone()[0] == 0


# Names with digits: not quantities, and the cited sources must contain them (item 3).
NAMES = [
    # (text, names, quantities)
    ("SELECT col2 FROM TAB2 WHERE col2 > 3", ["col2", "tab2"], ["3"]),
    ("TAB2 B의 구조", ["tab2"], []),                          # not 2 bytes
    ("IPv4 주소는 32비트, IPv6 주소는 128비트이다", ["ipv4", "ipv6"], ["32비트", "128비트"]),  # 비트 is a unit
    ("TCP 3-way handshake에서", ["3way"], []),                   # digits, a hyphen, a word
    ("IPv6 주소는 10진수로 쓰지 않는다", ["ipv6", "10진수"], []),  # digits against a term
    ("OSI 3계층의 전송 단위", ["3계층"], []),                     # the term, not OSI 3
    ("정답은 1번, 조건은 4가지", [], ["1", "4"]),                 # counters keep the number
    ("문자셋은 utf8mb4로 지정한다", ["utf8mb4"], []),
    ("물의 화학식 H2O", ["h2o"], []),
    ("2NF와 3NF의 차이", ["2nf", "3nf"], []),
    ("BCNF는 3.5NF라고도 부른다", ["35nf"], []),
    ("3D 프린팅과 B2B 거래", ["3d", "b2b"], []),
    ("ISO 9001 인증을 받았다", ["iso9001"], []),
    ("RAID 5는 패리티를 분산 저장한다", ["raid5"], []),
    ("OSI 7계층 중 전송 계층", ["7계층"], []),                   # the term after the caps word
    ("HTTP 404 오류", ["http404"], []),
    ("제2정규형은 부분 함수 종속을 제거한다", ["제2정규형"], []),
    ("제3세계의 국가들", ["제3세계"], []),
    ("제 2 정규형", ["제2"], []),
    ("UTF-8로 저장하고 SHA-256으로 해시한다", ["utf8", "sha256"], []),
    ("HTTP/2와 X.509 인증서", ["http2", "x509"], []),
    ("x86_64 아키텍처", ["x8664"], []),
    ("SQL:1999 표준", ["sql1999"], []),
    ("1080p 영상, 5G 통신", ["1080p", "5g"], []),
    # not names
    ("CPU 4개와 RAM 16GB", [], ["4개", "16GB"]),
    ("문제2번의 정답", [], ["2"]),
    ("Python 3.11 버전", [], ["3.11"]),                       # not ALL-CAPS
    ("정답은 B 3개", [], ["3개"]),                             # one letter is not a name
    ("COUNT(*) > 3 인 그룹", [], ["3"]),
    ("3 NF", [], ["3"]),                                       # a space: not touching
    ("고려는 918년 왕건이 건국하였다", [], ["918년"]),
    ("64KB 버퍼", [], ["64KB"]),
]


def test_names_with_digits_are_names_not_quantities(db):
    names = read(db, "names", [text for text, _, _ in NAMES])
    quantities = read(db, "quantities", [text for text, _, _ in NAMES])
    wrong = [
        f"{text!r}: expected names {n} and quantities {q}, got {names[text]} and {quantities[text]}"
        for text, n, q in NAMES
        if (names[text], quantities[text]) != (n, q)
    ]
    assert wrong == []
    assert db.execute("SELECT study_card_names(NULL), study_card_names('')").fetchone() == ([], [])


MISSING_NAMES = [
    # (card text, source text, missing with the source's norm only, missing with its names too)
    ("col2를 조회한다", "SELECT col20 FROM t", ["col2"], ["col2"]),        # not a longer number
    ("col2를 조회한다", "SELECT col2, col3 FROM t", [], []),
    ("2NF의 조건", "정규형은 12NF까지 있다", ["2nf"], ["2nf"]),
    ("2NF의 조건", "1NF, 2NF, 3NF 순서로", [], []),
    ("제2정규형의 조건", "제2정규형은 부분 함수 종속을 제거한다", [], []),
    ("제2정규형의 조건", "2NF는 부분 함수 종속을 제거한다", ["제2정규형"], ["제2정규형"]),
    ("IPv6 주소", "IPv4 주소는 32비트이다", ["ipv6"], ["ipv6"]),
    ("ISO 9001 인증", "ISO9001 인증을 받았다", [], []),
    ("RAID 5 구성", "RAID 50 구성", ["raid5"], ["raid5"]),
    ("TAB2 B의 구조", "TAB2 B를 조인한다", [], []),
    # norm glues tokens: 'IPv4 32비트' is 'ipv432비트'; the source's names tell them apart
    ("IPv4 주소", "IPv4 32비트 주소", ["ipv4"], []),
    ("1970년 커드", "관계형 모델은 1970년에", [], []),          # no name at all
]


def test_missing_names(db):
    wrong = []
    for card, source, norm_only, with_names in MISSING_NAMES:
        got = db.execute(
            "SELECT study_card_missing_names(%(c)s, study_card_norm(%(s)s)),"
            " study_card_missing_names(%(c)s, study_card_norm(%(s)s), study_card_names(%(s)s))",
            {"c": card, "s": source},
        ).fetchone()
        if got != (norm_only, with_names):
            wrong.append(f"{card!r} in {source!r}: expected {norm_only} / {with_names}, got {got[0]} / {got[1]}")
    assert wrong == []
    # several cited sources, their norms joined by a separator
    assert db.execute(
        "SELECT study_card_missing_names('col2 and TAB2', study_card_norm('SELECT col2') || '|' || study_card_norm('FROM TAB2'))"
    ).fetchone()[0] == []
    assert db.execute("SELECT study_card_missing_names('col2', NULL), study_card_missing_names('col2', NULL, NULL)").fetchone() == (
        ["col2"], ["col2"])


# Sino-Korean and Hanja numerals (issue 11 item 3), and words that only look like them.
NUMERALS = [
    ("임진왜란은 삼 년 동안 이어졌다", ["3년"]),
    ("십이 명의 학생이 참여했다", ["12명"]),
    ("논문은 천구백칠십이년에 발표되었다", ["1972년"]),
    ("응답률이 이십 퍼센트 늘었다", ["20%"]),
    ("일 년에 한 번 점검한다", ["1년"]),
    ("예산은 삼천만 원이다", ["30000000원"]),
    ("만 명이 넘는 관중", ["10000명"]),
    ("이십일 세기의 과제", ["21세기"]),
    ("삼십일 동안", ["30일"]),
    ("일주일 뒤", ["1주"]),
    ("삼개월 이내", ["3개월"]),
    ("십년 동안", ["10년"]),
    ("천년 왕국", ["1000년"]),
    ("영 퍼센트", ["0%"]),
    ("一九七二年에 발표", ["1972년"]),
    ("三年 동안", ["3년"]),
    ("十二名이 참석", ["12명"]),
    ("二〇二三年 개정", ["2023년"]),
    ("三千萬 원", ["30000000원"]),
    ("三年間 유배", ["3년"]),
    ("一九七二年三月", ["1972년", "3"]),                      # 三月 is March: a number, no unit
    ("千九百七十二年", ["1972년"]),
    # look-alikes: words, not numbers
    ("일반적으로 이상 현상이 생긴다", []),
    ("삼국 시대의 일부 사회 구조", []),
    ("오류가 난 구조를 고친다", []),
    ("십자군 전쟁과 백제의 천도", []),
    ("만약 조선이 개항했다면", []),
    ("이 시대의 사원 명부", []),
    ("이 년 동안", []),                                      # 이 before a spaced word is 'this'
    ("이 분이 설명한다", []),
    ("사건 구분 이건 공개", []),
    ("영원한 일명 만세", []),
    ("삼일 운동과 오일 쇼크", []),
    ("이사회 일일 점검", []),
    ("공 개수를 센다", []),
    ("十分 一名 萬歲", []),
    ("二元論과 一元論", []),
    ("사원 테이블에서 사원번호를 조회", []),
]


def test_sino_korean_and_hanja_numerals(db):
    assert sum(q == [] for _, q in NUMERALS) >= 10 and sum(q != [] for _, q in NUMERALS) >= 10
    check(db, "quantities", NUMERALS)


UNSUPPORTED = [
    # (card text, evidence text, unsupported)
    ("1972년", "관계형 모델은 1970년에 제안되었다", ["1972년"]),
    ("3년", "로그 보존 기간은 3개월이다", ["3년"]),
    ("1972년", "발표 연도: 1972", ["1972년"]),                  # a unit needs the unit
    ("30회", "접속 횟수 : 30", ["30회"]),
    ("1970", "관계형 모델은 1970년에", []),                      # a bare number, any unit
    ("30", "전체의 30%", []),
    ("10,000건", "하루 10000 건", []),
    ("10000 건", "하루 처리량은 10,000건이었다", []),
    ("3.5 퍼센트", "조회 시간이 3.5% 줄었다", []),
    ("35%", "조회 시간이 3.5% 줄었다", ["35%"]),
    ("천구백칠십이년", "1972년에 발표", []),
    ("천구백칠십이년", "1970년에 발표", ["1972년"]),
    ("一九七二年", "1970년에 발표", ["1972년"]),
    ("삼 년", "3년 동안", []),
    ("10", "값이 10 초과인 행", []),
    ("10초", "값이 10 초과인 행", ["10초"]),
    ("IP 버전 4", "IPv4 주소", []),                             # a name's digits support a bare number
    ("4개", "IPv4 주소", ["4개"]),
    ("IPv4 주소", "주소", []),                                  # a name is not a quantity
    ("1972년, 1980년, 1972년", "", ["1972년", "1980년"]),       # each once, in order
    # digits of another script: only the same run supports them
    ("١٩٧٢년", "관계형 모델은 1970년에", ["١٩٧٢년"]),
    ("١٩٧٢년", "نشر في ١٩٧٢년", []),
    ("١٩٧٢년", "1972년", ["١٩٧٢년"]),
    ("१९७२년", "관계형 모델은 1970년에", ["१९७२년"]),
    ("१९७२년", "१९७२년 발표", []),
    ("๑๙๗๒", "๑๙๗๒ 발표", []),
]


def test_unsupported_quantities(db):
    wrong = []
    for card, evidence, expected in UNSUPPORTED:
        got = db.execute(
            "SELECT study_card_unsupported_quantities(%(c)s, %(e)s::text),"
            " study_card_unsupported_quantities(%(c)s, study_card_quantity_keys(%(e)s))",
            {"c": card, "e": evidence},
        ).fetchone()
        if got != (expected, expected):
            wrong.append(f"{card!r} against {evidence!r}: expected {expected}, got {got}")
    assert wrong == []


def test_quantity_keys(db):
    assert db.execute("SELECT study_card_quantity_keys('1972년 3.50% 10,000건 IPv4 ١٩٧٢년 삼 년 30')").fetchone()[0] == sorted(
        ["1972년", "1972*", "3.5%", "3.5*", "10000건", "10000*", "4*", "١٩٧٢년", "١٩٧٢*", "3년", "3*", "30", "30*"])
    assert db.execute("SELECT study_card_quantity_keys(NULL), study_card_quantity_keys('숫자 없음')").fetchone() == ([], [])


def test_the_overloads_resolve(db):
    # two untyped literals pick the text version: '{3년}' read as a text has the number 3년,
    # which supports a bare 3; as keys it would not
    assert db.execute("SELECT study_card_unsupported_quantities('3', '{3년}')").fetchone()[0] == []
    assert db.execute("SELECT study_card_unsupported_quantities('3', '{3년}'::text[])").fetchone()[0] == ["3"]
    assert db.execute("SELECT study_card_unsupported_quantities('3', ARRAY['3*'])").fetchone()[0] == []
    assert db.execute("SELECT study_card_unsupported_quantities('3년', ARRAY['3*'])").fetchone()[0] == ["3년"]
    assert db.execute("SELECT study_card_unsupported_quantities('3년', NULL)").fetchone()[0] == ["3년"]
    assert db.execute("SELECT study_card_unsupported_quantities('3년', NULL::text[])").fetchone()[0] == ["3년"]
    assert db.execute("SELECT study_card_missing_names('col2', 'col2')").fetchone()[0] == []


def test_invisible_characters_do_not_split_or_hide_a_number(db):
    check(db, "quantities", [
        ("백업은 5\u200b5년", ["55년"]),
        ("3\u3164년 보관", ["3년"]),                             # a Hangul filler
        ("１９７２년", ["1972년"]),                              # full-width digits
        ("⑫명", ["12명"]),                                      # circled number (NFKC)
        ("10\u00ad초과", ["10"]),
    ])


def test_one_read_gives_what_the_separate_functions_give(db):
    """study_card_number_facts: keys, names and quantities of one read are those of
    study_card_quantity_keys, study_card_names and study_card_unsupported_quantities."""
    texts = ["1972년 3.50% 10,000건 IPv4 ١٩٧٢년 삼 년 30", "IPv4 col2 제2정규형 ISO 9001 TAB2 B", "숫자 없음", "",
             "CPU 4개, Python 3.11, 1만 명의 사원, 10 초과, 一九七二年 1972년", "col2 col2 2NF 3계층 10진수 1번"]
    rows = db.execute(
        "SELECT f.keys = study_card_quantity_keys(x.t), f.names = study_card_names(x.t),"
        " f.quantities = study_card_unsupported_quantities(x.t, NULL::text[]),"
        " study_card_unsupported_quantities(f.quantities, f.needs, ARRAY['1972년', '4*'])"
        " = study_card_unsupported_quantities(x.t, ARRAY['1972년', '4*']),"
        " (study_card_number_facts(x.t, true)).names = study_card_names(x.t)"
        " FROM unnest(%s::text[]) AS x(t), study_card_number_facts(x.t) AS f", (texts,)).fetchall()
    assert rows == [(True, True, True, True, True)] * len(texts)
    assert db.execute("SELECT f.quantities, f.needs FROM study_card_number_facts('3년, 30, 3년, ٣') AS f").fetchone() == (
        ["3년", "30", "٣"], ["3년", "30*", "٣*"])
    assert db.execute("SELECT * FROM study_card_number_facts(NULL)").fetchone() == ([], [], [], [])
    assert db.execute("SELECT study_card_unsupported_quantities(ARRAY['3년', '30'], ARRAY['3년', '30*'], ARRAY['30*'])"
                      ).fetchone()[0] == ["3년"]
    assert db.execute("SELECT study_card_names_not_in(ARRAY['col2', 'ipv4'], 'col20 ipv4', NULL)").fetchone()[0] == ["col2"]


def test_verdicts_do_not_depend_on_standard_conforming_strings(db_url):
    """Issue 11 item 7: each function sets standard_conforming_strings for itself."""
    query = (
        "SELECT study_card_unsupported_quantities('1972년 천구백칠십이년', '1970년'),"
        " study_card_names('IPv4 col2 제2정규형 ISO 9001'),"
        " study_card_quantity_keys('10,000건 3.5%'),"
        " study_card_missing_names('col2', 'col20'),"
        " ARRAY(SELECT quantity FROM study_card_quantities('1만 명, 10 초과, 一九七二年, ١٩٧٢년') ORDER BY ord)"
    )
    verdicts = []
    for setting in ("on", "off"):
        with psycopg.connect(db_url, autocommit=True, options=f"-c standard_conforming_strings={setting}") as conn:
            assert conn.execute("SHOW standard_conforming_strings").fetchone()[0] == setting
            verdicts.append(conn.execute(query).fetchone())
    assert verdicts[0] == verdicts[1] == (
        ["1972년"], ["ipv4", "col2", "제2정규형", "iso9001"], ["10000*", "10000건", "3.5%", "3.5*"], ["col2"],
        ["10000명", "10", "1972년", "١٩٧٢년"])


FUNCTIONS = [
    "study_card_quantity_words(text)",
    "study_card_unit_word_pattern(text)",
    "study_card_numeral_value(text)",
    "study_card_number_tokens(text, boolean)",
    "study_card_number_facts(text, boolean)",
    "study_card_names_not_in(text[], text, text[])",
    "study_card_unsupported_quantities(text[], text[], text[])",
    "study_card_quantities(text)",
    "study_card_names(text)",
    "study_card_missing_names(text, text, text[])",
    "study_card_missing_names(text, text)",
    "study_card_quantity_keys(text)",
    "study_card_unsupported_quantities(text, text[])",
    "study_card_unsupported_quantities(text, text)",
]


def test_function_attributes(db):
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, p.provolatile, p.proparallel, p.proconfig,"
        " has_function_privilege('public', p.oid, 'EXECUTE')"
        " FROM unnest(%s::text[]) AS f(signature) JOIN pg_proc AS p ON p.oid = to_regprocedure(f.signature)",
        (FUNCTIONS,),
    ).fetchall()
    assert len(rows) == len(FUNCTIONS)
    for signature, volatility, parallel, config, public in rows:
        assert (volatility, parallel, public) == ("i", "s", False), signature
        assert "search_path=public, pg_temp" in config and "standard_conforming_strings=on" in config, signature
