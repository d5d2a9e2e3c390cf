"""Gather: the latency of study_card_gather as the user's document chunks grow.

Workload: one user with one document of 10,000 chunks, then 100,000 (2,000 and 20,000
with --quick). Each chunk is 40 Korean nouns, bare or with a particle, drawn by rank
log-uniformly from about 3,100 (145 real exam terms, the most frequent, then
two-syllable Sino-Korean nouns), with a random 1024-dimension unit embedding (l2_normalize of
uniform noise). The indexes on
document_chunks are the project's own (migration 0010: HNSW on the embedding, GiST
trigram on the content): dropped before each bulk load and rebuilt after it with the
same definitions (how a large import is done), with maintenance_work_mem = 2GB.
At each size, 50 gathers (20 with --quick), each for another claimed question job
with a stem of 3 vocabulary words + "에 대한 설명으로 옳은 것은?" (what the trigram
search looks for), a 30-word explanation, and a random unit query embedding; p_k = 6.
p50 and p95 are compared between the sizes: 10x the chunks must cost far less than 10x
the time (the bound used here: at most 3x; an HNSW search grows with log n). The plans
of one more gather at the large size show which indexes it uses (auto_explain of the
queries inside the function).
"""

import random
import time

import psycopg

from bench.harness import Bench, Row, indent, nested_plans, percentile

NOUNS = """
조선 고려 신라 백제 고구려 세종 훈민정음 집현전 측우기 자격루 장영실 경국대전 성종 태조 이성계
정도전 한양 천도 과전법 향약 서원 붕당 탕평책 영조 정조 규장각 수원 화성 실학 박지원 정약용
목민심서 흥선대원군 쇄국 개항 강화도 조약 갑신정변 동학 농민 운동 갑오개혁 을미사변 아관파천 독립협회
대한제국 광무개혁 을사늑약 국채 보상 신민회 의병 삼일 운동 임시 정부 광복 헌법 국회 대통령 국무총리
법원 헌법재판소 기본권 평등권 자유권 참정권 청구권 사회권 선거 비례 대표 지방 자치 행정 입법 사법
민법 형법 계약 채권 물권 소유권 상속 혼인 친권 미성년자 법정 대리인 소멸 시효 손해 배상 불법 행위
광합성 엽록체 미토콘드리아 세포 호흡 효소 단백질 탄수화물 지방산 유전자 염색체 돌연변이 진화 생태계
먹이 사슬 분해자 생산자 소비자 질량 보존 법칙 원자 분자 이온 산화 환원 중화 반응 촉매 농도 압력
온도 부피 기체 액체 고체 전류 전압 저항 자기장 전자기 유도 파동 진동수 파장 굴절 반사 에너지 보존
""".split()
# Sino-Korean syllables: 3,000 more two-syllable nouns are drawn from them (the same
# ones every run), so the vocabulary is as large as a subject's real one.
SYLLABLES = """가각간감강개거건검격견결경계고곡공과관광교구국군궁권귀규균극근금기길난남내노농
다단담답당대덕도독동두등락란람랑래량려력련령례로록론료루류륙률리린림립마막만말망매맥면명모목
몽묘무문물미민밀박반발방배백번벌범법벽변별병보복본봉부북분불비빈사산삼상색생서석선설섬섭성세소
속손송수숙순술습승시식신실심십악안암압앙애액야약양어억언엄업여역연열염엽영예오옥온완왕외요욕용
우욱운웅원월위유육윤율은음읍의이익인일임입자작잔잠장재쟁저적전절점접정제조족존종좌주죽준중즉증
지직진질집징차착찬찰참창채책처척천철첨청체초촉촌총최추축춘출충취측치칙친칠침칭타탁탄탈탐탑태택
토통퇴투특파판팔패편평폐포폭표품풍피필하학한할함합항해핵행향허헌험혁현혈협형혜호혹혼홍화확환활
황회획효후훈휘휴흉흑흥희""".replace("\n", "")
PSEUDO_NOUNS = list(dict.fromkeys(
    a + b for a, b in zip(random.Random(7).choices(SYLLABLES, k=3500), random.Random(8).choices(SYLLABLES, k=3500))
    if a != b))[:3000]
# Drawn by rank, log-uniformly (a word of rank r about 1/r as often as the first):
# the real nouns are the frequent ones, as a subject's own terms are.
RANKED_NOUNS = NOUNS + [noun for noun in PSEUDO_NOUNS if noun not in NOUNS]
PARTICLES = ["", "", "", "은", "는", "이", "가", "을", "를", "의", "에", "에서", "으로", "와", "과", "도"]

WARM_UP = 5
CHUNK_WORDS = 40
STEM_WORDS = 3
QUERY_WORDS = 30
RANDOM_WORDS = """(SELECT string_agg(
                        (%(nouns)s::text[])[ceil(exp(random() * ln(cardinality(%(nouns)s::text[]))))::int]
                        || (%(particles)s::text[])[1 + floor(random() * cardinality(%(particles)s::text[]))::int],
                        ' ')
                     FROM generate_series(1, {count}) WHERE {row} > 0)"""
WORDS = {"nouns": RANKED_NOUNS, "particles": PARTICLES}
RANDOM_UNIT_VECTOR = "l2_normalize(array(SELECT random() - 0.5 + 0 * {row} FROM generate_series(1, 1024))::vector)"


def chunk_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of every index on document_chunks but its primary key."""
    return conn.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = 'document_chunks' AND i.schemaname = 'public'
              AND i.indexname <> 'document_chunks_pkey' ORDER BY 1""").fetchall()


def load_chunks(conn: psycopg.Connection, document: int, first: int, last: int) -> float:
    """Insert chunks first..last with the indexes dropped, rebuild them; returns build seconds."""
    indexes = chunk_indexes(conn)
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute(
        f"""INSERT INTO document_chunks (document_id, ord, content, embedding)
            SELECT %(document)s, i, {RANDOM_WORDS.format(count=CHUNK_WORDS, row='i')},
                   {RANDOM_UNIT_VECTOR.format(row='i')}
              FROM generate_series(%(first)s::int, %(last)s::int) AS i""",
        {"document": document, "first": first, "last": last} | WORDS)
    began = time.monotonic()
    conn.execute("SET maintenance_work_mem = '2GB'")
    for _, definition in indexes:
        conn.execute(definition)
    conn.execute("RESET maintenance_work_mem")
    conn.execute("VACUUM ANALYZE")
    return time.monotonic() - began


def question_jobs(conn: psycopg.Connection, user: int, count: int) -> list[tuple[int, str]]:
    """`count` questions with an explanation and an embedding, and their jobs:
    [(job id, query embedding as text)]."""
    conn.execute(
        f"""INSERT INTO study_questions (user_id, stem, answer, ai_explanation, ai_explanation_generated_at, embedding)
            SELECT %(user)s, {RANDOM_WORDS.format(count=STEM_WORDS, row='i')} || '에 대한 설명으로 옳은 것은?', '③',
                   {RANDOM_WORDS.format(count=QUERY_WORDS, row='i')}, clock_timestamp(),
                   {RANDOM_UNIT_VECTOR.format(row='i')}
              FROM generate_series(1, %(count)s::int) AS i""",
        {"user": user, "count": count} | WORDS)
    conn.execute("SELECT study_card_enqueue(%s)", (count,))
    return conn.execute(
        """SELECT j.id, q.embedding::text FROM study_card_claim('bench-gather', %s, '1 hour') AS j
             JOIN study_questions q ON q.id = j.source_id AND j.source_kind = 'question'
            ORDER BY j.id""", (count,)).fetchall()


def gather_times(conn: psycopg.Connection, jobs: list[tuple[int, str]]) -> list[float]:
    times = []
    for job_id, embedding in jobs:
        began = time.perf_counter()
        rows = conn.execute("SELECT * FROM study_card_gather(%s, 6, %s::vector, 'bench-gather')", (job_id, embedding),
                            prepare=True).fetchall()
        times.append((time.perf_counter() - began) * 1000)
        if len(rows) < 2:
            raise RuntimeError(f"study_card_gather returned {len(rows)} rows for job {job_id}")
    return times


def run(bench: Bench) -> list[Row]:
    sizes, calls = ((2_000, 20_000), 20) if bench.quick else ((10_000, 100_000), 50)
    bench.say(f"workload: {CHUNK_WORDS}-word Korean chunks with 1024-d unit embeddings at "
              f"{' and '.join(f'{size:,}' for size in sizes)} chunks; {calls} gathers per size, p_k = 6")
    url = bench.database("bench_gather", with_schema=True)
    results = {}
    with psycopg.connect(url, autocommit=True) as conn:
        user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
        document = conn.execute("INSERT INTO documents (user_id, title) VALUES (%s, '기출 정리') RETURNING id",
                                (user,)).fetchone()[0]
        definitions = chunk_indexes(conn)
        bench.say(f"  indexes on document_chunks: {', '.join(name for name, _ in definitions) or 'NONE'}")
        indexes = {"HNSW": [name for name, definition in definitions if "USING hnsw" in definition],
                   "trigram GiST": [name for name, definition in definitions if "gist_trgm_ops" in definition]}
        loaded = 0
        for size in sizes:
            build = load_chunks(conn, document, loaded + 1, size)
            loaded = size
            jobs = question_jobs(conn, user, WARM_UP + calls)
            gather_times(conn, jobs[:WARM_UP])  # bring the indexes into the caches
            times = gather_times(conn, jobs[WARM_UP:])
            results[size] = (percentile(times, 50), percentile(times, 95))
            bench.say(f"  {size:>7,} chunks: index build {build:5.1f} s; gather p50 {results[size][0]:.2f} ms, "
                      f"p95 {results[size][1]:.2f} ms")
        job_id, embedding = question_jobs(conn, user, 1)[0]
        plans = nested_plans(conn, "SELECT * FROM study_card_gather(%s, 6, %s::vector, 'bench-gather')", (job_id, embedding))
    bench.drop("bench_gather")

    relevant = [plan for plan in plans if "document_chunks" in plan or "study_subject_notes" in plan]
    bench.say(f"  plans of the queries inside study_card_gather that read chunks or notes ({sizes[-1]:,} chunks):")
    for plan in relevant:
        bench.say(indent(plan))
    text = "\n".join(relevant)
    used = {kind: any(name in text for name in names) for kind, names in indexes.items()}
    seq_scan = any("Seq Scan on document_chunks" in line and "never executed" not in line for line in text.splitlines())
    small, large = sizes
    growth = f"{large // small}x chunks"
    return [
        Row("gather", f"p50 at {small:,} chunks", f"{results[small][0]:.2f} ms"),
        Row("gather", f"p95 at {small:,} chunks", f"{results[small][1]:.2f} ms"),
        Row("gather", f"p50 at {large:,} chunks", f"{results[large][0]:.2f} ms",
            results[large][0] / results[small][0], f"p50 at {small:,} ({growth})", "<= 3"),
        Row("gather", f"p95 at {large:,} chunks", f"{results[large][1]:.2f} ms",
            results[large][1] / results[small][1], f"p95 at {small:,} ({growth})", "<= 3"),
        Row("gather", "chunk index use in plans",
            ", ".join(f"{kind} {'yes' if use else 'NO'}" for kind, use in used.items())
            + ("; SEQ SCAN on document_chunks" if seq_scan else "; no seq scan")),
    ]
