"""Gather: the latency of study_card_gather as the user's document chunks grow, and what
its bounded lexical search finds compared with an exact one.

Workload: one user with one document of 10,000 chunks, and in another database 100,000
(2,000 and 20,000 with --quick; BENCH_GATHER_SIZES=10000,100000,300000 adds sizes). Each
chunk is 40 Korean nouns, bare or with a particle, drawn by rank log-uniformly from about
3,100 (145 real exam terms, the most frequent, then two-syllable Sino-Korean nouns), with a random
1024-dimension unit embedding (l2_normalize of uniform noise). The indexes on
document_chunks are the project's own (migration 0010's HNSW on the embedding, 0016's GIN
trigram on the content): dropped before each bulk load and rebuilt after it with the
same definitions (how a large import is done), with maintenance_work_mem = 2GB.
At each size, 100 gathers (20 with --quick), the sizes taking turns in 10 rounds of 10 (so
that the shared machine's busy spells fall on every size; the first gather after each
switch untimed, its caches being the other sizes'), each for another claimed job
of a question with a stem of 3 vocabulary words + "에 대한 설명으로 옳은 것은?", a 30-word explanation
(the lexical query: the answer and the word it repeats most, e.g. "3 고려"), and a random
unit query embedding; p_k = 6. Targets: p95 <= 50 ms at 100,000 chunks, and 10x the
chunks at most 2x the time (p50 and p95). The plans of one more gather at the largest
size show which indexes it uses (auto_explain of the queries inside the functions).

Recall@6 against the exact lexical search, for the first 20 timed gathers at each size:
the reference is gather's own fusion (reciprocal rank, pools of max(20, 4k) = 24) of the
same vector list (study_card_related_by_vector under gather's settings) and the exact
lexical list: every one of the user's rows with word similarity >= 0.2, ordered by
similarity, then kind, then id, the first 24 (what the GiST nearest-first scan before
issue 13 computed, ties aside). recall@6 = the share of the reference's S2..S7 that
gather returned. On this corpus thousands of chunks tie at the top similarity (the query
is one frequent noun), so the reference's lexical half is decided by ids among them; also
reported "tie-aware": a reference row with no vector rank counts as found when gather
returned another row with no vector rank and the same word similarity instead.
"""

import contextlib
import os
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
ROUNDS = 10
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


POOL = 24  # gather's pool for k = 6: max(20, 4k)
RECALL_JOBS = 20

# The exact lexical list: of the user's rows with word similarity >= 0.2, the first 24 by
# similarity, then kind, then id. Through the GIN index's uncapped candidates at a
# threshold (its condition is necessary for that similarity), 0.5 first: when 24 rows
# reach it, no row under it can be among the first 24.
EXACT_LEXICAL = """
SELECT h.kind, h.id, 1 - h.distance FROM (
    SELECT 'document_chunk'::text AS kind, c.id, %(query)s <<-> c.content AS distance FROM study_card_host_chunks c
     WHERE %(query)s <%% c.content AND c.user_id = %(user)s AND btrim(c.content) <> ''
    UNION ALL
    SELECT 'subject_note'::text, n.id, %(query)s <<-> n.body FROM study_card_host_notes n
     WHERE %(query)s <%% n.body AND n.user_id = %(user)s AND btrim(n.body) <> '') AS h
 ORDER BY h.distance, h.kind, h.id
 LIMIT %(pool)s"""


class ExactFusion:
    """Gather's fusion of its own vector list and the exact lexical list (module doc)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.lexical_cache: dict[tuple[str, int], tuple[list, dict]] = {}

    def lexical(self, query: str, user: int) -> tuple[list, dict]:
        if (query, user) not in self.lexical_cache:
            for threshold in (0.5, 0.2):
                with self.conn.transaction():
                    self.conn.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {threshold}")
                    self.conn.execute("SET LOCAL enable_seqscan = off")
                    rows = self.conn.execute(EXACT_LEXICAL, {"query": query, "user": user, "pool": POOL}).fetchall()
                if len(rows) == POOL:
                    break
            self.lexical_cache[query, user] = ([(kind, id_) for kind, id_, _ in rows[:POOL]],
                                               {(kind, id_): ws for kind, id_, ws in rows})
        return self.lexical_cache[query, user]

    def top(self, job_id: int, embedding: str, k: int = 6) -> tuple[list, set, dict]:
        """(reference S2.. rows, the vector pool, word similarity by row)."""
        user, query = self.conn.execute(
            "SELECT user_id, study_card_source_query(source_kind, source_id) FROM study_memo_card_jobs WHERE id = %s",
            (job_id,)).fetchone()
        with self.conn.transaction():  # gather's settings for the vector search
            self.conn.execute("SET LOCAL enable_seqscan = off")
            self.conn.execute("SET LOCAL hnsw.ef_search = %s" % max(POOL, 40))
            self.conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            vector = [(kind, id_) for kind, id_, _ in self.conn.execute(
                "SELECT * FROM study_card_related_by_vector(%s, %s::vector, %s, 'question', 0) ORDER BY rank",
                (user, embedding, POOL)).fetchall()]
        lexical, similarity = self.lexical(query, user)
        score: dict = {}
        for ranking in (vector, lexical):
            for rank, row in enumerate(ranking, 1):
                score[row] = score.get(row, 0.0) + 1.0 / (60 + rank)
        return sorted(score, key=lambda row: (-score[row], row))[:k], set(vector), similarity


def recall_at(reference: list, returned: list, vector_pool: set, similarity: dict) -> tuple[float, float]:
    """(recall, tie-aware recall) of `returned` against `reference` (module doc)."""
    found = [row for row in reference if row in returned]
    spare = [row for row in returned if row not in reference and row not in vector_pool]
    tied = 0
    for row in reference:
        if row in returned or row in vector_pool:
            continue
        twin = next((other for other in spare if similarity.get(other) == similarity.get(row)), None)
        if twin is not None:
            spare.remove(twin)
            tied += 1
    return len(found) / len(reference), (len(found) + tied) / len(reference)


def gather_rows(conn: psycopg.Connection, job_id: int, embedding: str) -> list[tuple[str, int]]:
    return [(kind, id_) for _, kind, id_, *_ in conn.execute(
        "SELECT * FROM study_card_gather(%s, 6, %s::vector, 'bench-gather')", (job_id, embedding)).fetchall()[1:]]


def run(bench: Bench) -> list[Row]:
    sizes = (2_000, 20_000) if bench.quick else (10_000, 100_000)
    if os.environ.get("BENCH_GATHER_SIZES"):
        sizes = tuple(int(size) for size in os.environ["BENCH_GATHER_SIZES"].split(","))
    calls = 20 if bench.quick else 100
    bench.say(f"workload: {CHUNK_WORDS}-word Korean chunks with 1024-d unit embeddings at "
              f"{', '.join(f'{size:,}' for size in sizes)} chunks; {calls} gathers per size, p_k = 6; "
              f"recall@6 of the first {RECALL_JOBS} against the exact lexical search")
    results, recalls, times, conns, jobs = {}, {}, {}, {}, {}
    with contextlib.ExitStack() as stack:
        for size in sizes:  # a database per size, so that the sizes can take turns below
            url = bench.database(f"bench_gather_{size}", with_schema=True)
            conn = conns[size] = stack.enter_context(psycopg.connect(url, autocommit=True))
            user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
            document = conn.execute("INSERT INTO documents (user_id, title) VALUES (%s, '기출 정리') RETURNING id",
                                    (user,)).fetchone()[0]
            definitions = chunk_indexes(conn)
            indexes = {"HNSW": [name for name, definition in definitions if "USING hnsw" in definition],
                       "trigram GIN": [name for name, definition in definitions if "gin_trgm_ops" in definition]}
            began = time.monotonic()
            build = load_chunks(conn, document, 1, size)
            jobs[size] = question_jobs(conn, user, WARM_UP + calls + ROUNDS)
            gather_times(conn, jobs[size][:WARM_UP])  # bring the indexes into the caches
            times[size] = []
            bench.say(f"  {size:>9,} chunks: load and index build {time.monotonic() - began:6.1f} s (indexes "
                      f"{build:5.1f} s: {', '.join(name for name, _ in definitions)})")
        # The sizes take turns, ROUNDS times calls / ROUNDS gathers each, so that a busy
        # spell of the (shared) machine falls on every size alike.
        # The first gather after a switch is untimed: the other sizes' searches have
        # pushed this one's index pages out of shared_buffers (128 MB) meanwhile.
        per_round = calls // ROUNDS
        for round_ in range(ROUNDS):
            for size in sizes[round_ % len(sizes):] + sizes[:round_ % len(sizes)]:
                start = WARM_UP + round_ * (per_round + 1)
                gather_times(conns[size], jobs[size][start:start + 1])
                times[size] += gather_times(conns[size], jobs[size][start + 1:start + 1 + per_round])
        for size in sizes:
            results[size] = (percentile(times[size], 50), percentile(times[size], 95))
            bench.say(f"  {size:>9,} chunks: gather p50 {results[size][0]:.2f} ms, p95 {results[size][1]:.2f} ms")
        for size in sizes:
            conn = conns[size]
            exact = ExactFusion(stack.enter_context(psycopg.connect(conn.info.dsn, autocommit=True)))
            strict, tie_aware = [], []
            began = time.monotonic()
            for job_id, embedding in jobs[size][WARM_UP:WARM_UP + RECALL_JOBS]:
                reference, vector_pool, similarity = exact.top(job_id, embedding)
                returned = gather_rows(conn, job_id, embedding)
                for row in returned:  # the similarity of a returned row the reference did not rank
                    if row not in similarity:
                        query = conn.execute("SELECT study_card_source_query(source_kind, source_id)"
                                             " FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone()[0]
                        similarity[row] = conn.execute(
                            "SELECT word_similarity(%s, study_card_source_text(%s, %s))", (query, *row)).fetchone()[0]
                one, two = recall_at(reference, returned, vector_pool, similarity)
                strict.append(one)
                tie_aware.append(two)
                if one < 1:
                    bench.say(f"    job {job_id}: reference {reference}, gather {returned}")
            recalls[size] = (sum(strict) / len(strict), sum(tie_aware) / len(tie_aware))
            bench.say(f"  {size:>9,} chunks: recall@6 {recalls[size][0]:.3f}, tie-aware {recalls[size][1]:.3f} "
                      f"({len(strict)} gathers, {len(exact.lexical_cache)} distinct queries, "
                      f"{time.monotonic() - began:.0f} s)")
        conn = conns[sizes[-1]]
        user = conn.execute("SELECT id FROM users").fetchone()[0]
        job_id, embedding = question_jobs(conn, user, 1)[0]
        plans = nested_plans(conn, "SELECT * FROM study_card_gather(%s, 6, %s::vector, 'bench-gather')", (job_id, embedding))
    for size in sizes:
        bench.drop(f"bench_gather_{size}")

    relevant = [plan for plan in plans if "document_chunks" in plan or "study_subject_notes" in plan]
    bench.say(f"  plans of the queries inside study_card_gather that read chunks or notes ({sizes[-1]:,} chunks):")
    for plan in relevant:
        bench.say(indent(plan))
    text = "\n".join(relevant)
    used = {kind: any(name in text for name in names) for kind, names in indexes.items()}
    seq_scan = any("Seq Scan on document_chunks" in line and "never executed" not in line for line in text.splitlines())
    small = sizes[0]
    rows = [Row("gather", f"p50 at {small:,} chunks", f"{results[small][0]:.2f} ms"),
            Row("gather", f"p95 at {small:,} chunks", f"{results[small][1]:.2f} ms")]
    for previous, size in zip(sizes, sizes[1:]):
        growth = f"{size / previous:g}x chunks"
        target = "<= 2" if size == 10 * previous else ""
        rows.append(Row("gather", f"p50 at {size:,} chunks", f"{results[size][0]:.2f} ms",
                        results[size][0] / results[previous][0], f"p50 at {previous:,} ({growth})", target))
        rows.append(Row("gather", f"p95 at {size:,} chunks", f"{results[size][1]:.2f} ms",
                        results[size][1] / results[previous][1], f"p95 at {previous:,} ({growth})", target))
        if size == 100_000:
            rows.append(Row("gather", "p95 at 100,000 chunks", f"{results[size][1]:.2f} ms",
                            results[size][1] / 50, "50 ms", "<= 1"))
    for size in sizes:
        rows.append(Row("gather", f"recall@6 at {size:,} chunks", f"{recalls[size][0]:.3f}", recalls[size][0],
                        "exact lexical search", ">= 0.9", note=f"tie-aware {recalls[size][1]:.3f}"))
    rows.append(Row("gather", "chunk index use in plans",
                    ", ".join(f"{kind} {'yes' if use else 'NO'}" for kind, use in used.items())
                    + ("; SEQ SCAN on document_chunks" if seq_scan else "; no seq scan")))
    return rows
