-- The demo's study set: a 정보처리기사 (Engineer Information Processing) study server in
-- miniature. User 김민지 has 5 topics, 40 questions with AI explanations, 2 subject notes
-- and 3 documents split into chunks; user 박준호 has a few rows of his own, some on the
-- same subjects, so that the demo shows one user's evidence never reaching another's cards.
--
-- Load it into a database that has the schema applied:
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sample_data/study_set.sql
-- (./run demo does the same). It is idempotent: rows are matched by natural keys
-- (user e-mail; topic, note and document title; question stem; chunk position), missing
-- ones are inserted, changed ones updated, and a second run writes nothing.
--
-- What it leaves to the demo: ai_explanation_generated_at stays NULL, as for an
-- explanation that the pipeline has not seen yet; the demo stamps it (so the triggers
-- enqueue). A note whose body changes gets a new updated_at, as the host app would set.
--
-- Embeddings: deterministic pseudo-vectors, not a model's. Each text's character
-- bigrams (after study_card_norm) are hashed into 1024 buckets and counted, so cosine
-- similarity is plain lexical overlap. That is enough to exercise the pgvector half
-- of study_card_gather; a real server stores bge-m3 vectors in the same columns.
BEGIN;

CREATE OR REPLACE FUNCTION pg_temp.sample_embedding(p_text text) RETURNS vector(1024)
LANGUAGE sql IMMUTABLE
RETURN (
    SELECT array_agg(coalesce(h.n, 0)::real ORDER BY d.bucket)::vector(1024)
      FROM generate_series(0, 1023) AS d(bucket)
      LEFT JOIN (SELECT hashtext(substr(t.norm, i, 2)) & 1023 AS bucket, count(*) AS n
                   FROM (SELECT study_card_norm(p_text) AS norm) AS t,
                        generate_series(1, length(t.norm) - 1) AS i
                  GROUP BY 1) AS h USING (bucket));

CREATE TEMP TABLE sample_user (email text, display_name text) ON COMMIT DROP;
CREATE TEMP TABLE sample_topic (email text, name text) ON COMMIT DROP;
CREATE TEMP TABLE sample_question (
    email text, topic text, stem text, choices jsonb, answer text, explanation text) ON COMMIT DROP;
CREATE TEMP TABLE sample_note (email text, topic text, title text, body text) ON COMMIT DROP;
CREATE TEMP TABLE sample_chunk (email text, document text, ord int, content text) ON COMMIT DROP;

INSERT INTO sample_user VALUES
('minji@example.com', '김민지'),
('junho@example.com', '박준호');

INSERT INTO sample_topic VALUES
('minji@example.com', '데이터베이스 정규화'),
('minji@example.com', '트랜잭션'),
('minji@example.com', '네트워크'),
('minji@example.com', '운영체제'),
('minji@example.com', '소프트웨어 공학'),
('junho@example.com', '네트워크 복습');

INSERT INTO sample_question VALUES
-- 데이터베이스 정규화
('minji@example.com', '데이터베이스 정규화',
 '릴레이션에서 부분 함수 종속을 제거하여 얻는 정규형은?',
 '["제1정규형", "제2정규형", "제3정규형", "BCNF"]', '제2정규형',
 '제2정규형(2NF)은 제1정규형을 만족하면서 기본키가 아닌 모든 속성이 기본키에 완전 함수 종속되도록 부분 함수 종속을 제거한 정규형이다. 부분 함수 종속은 기본키가 2개 이상의 속성으로 이루어진 복합키일 때만 생기므로, 기본키가 속성 1개이면 1NF 릴레이션은 자동으로 2NF를 만족한다. 이행 함수 종속 제거는 3NF, 후보키가 아닌 결정자 제거는 BCNF의 조건이다.'),
('minji@example.com', '데이터베이스 정규화',
 '기본키에 이행적으로 함수 종속되는 속성을 제거하는 정규화 단계는?',
 '["제1정규형", "제2정규형", "제3정규형", "제4정규형"]', '제3정규형',
 'A → B이고 B → C일 때 A → C가 성립하는 것을 이행적 함수 종속이라 한다. 제3정규형(3NF)은 2NF를 만족하고 기본키에 이행적으로 종속되는 속성을 없앤 정규형이다. 예를 들어 학생(학번, 학과, 학과장)에서 학번 → 학과, 학과 → 학과장이면 학과장은 학번에 이행 종속이므로, 학생(학번, 학과)과 학과(학과, 학과장)의 2개 릴레이션으로 분해한다.'),
('minji@example.com', '데이터베이스 정규화',
 '릴레이션의 모든 결정자가 후보키이어야 하는 정규형은?',
 '["제2정규형", "제3정규형", "BCNF", "제5정규형"]', 'BCNF',
 'BCNF(Boyce-Codd 정규형)는 3NF를 강화한 정규형으로, 릴레이션의 모든 결정자가 후보키여야 한다. 3NF를 만족하더라도 후보키가 아닌 결정자가 있으면 BCNF가 아니다. BCNF로 분해하면 무손실 조인은 항상 보장되지만 함수 종속성 보존은 보장되지 않을 수 있다.'),
('minji@example.com', '데이터베이스 정규화',
 '다치 종속(Multi-Valued Dependency)을 제거하는 정규형은?',
 '["BCNF", "제4정규형", "제5정규형", "제3정규형"]', '제4정규형',
 '제4정규형(4NF)은 BCNF를 만족하면서 함수 종속이 아닌 다치 종속을 제거한 정규형이다. 다치 종속 A →→ B는 A 값 1개에 B 값 여러 개가 다른 속성 C와 독립적으로 대응하는 관계이다. 제5정규형(5NF)은 후보키를 통하지 않는 조인 종속을 제거한다.'),
('minji@example.com', '데이터베이스 정규화',
 '정규화를 하지 않은 릴레이션에서 발생하는 이상(Anomaly)에 해당하지 않는 것은?',
 '["삽입 이상", "삭제 이상", "갱신 이상", "조회 이상"]', '조회 이상',
 '이상 현상은 삽입 이상, 삭제 이상, 갱신 이상의 3가지이다. 삽입 이상은 원하지 않는 값까지 함께 넣어야만 삽입할 수 있는 현상, 삭제 이상은 튜플 1개를 지울 때 남겨야 할 정보까지 함께 지워지는 연쇄 삭제 현상, 갱신 이상은 중복된 튜플 중 일부만 수정되어 데이터가 서로 맞지 않게 되는 현상이다. 조회는 데이터를 바꾸지 않으므로 이상 현상에 들지 않는다.'),
('minji@example.com', '데이터베이스 정규화',
 '릴레이션의 모든 속성 값이 원자 값(Atomic Value)으로만 되어 있어야 하는 정규형은?',
 '["제1정규형", "제2정규형", "제3정규형", "BCNF"]', '제1정규형',
 '제1정규형(1NF)은 모든 도메인이 원자 값만으로 되어 있는 정규형이다. 예를 들어 한 학생의 전화번호 칸에 번호 2개를 쉼표로 이어 넣었다면 1NF 위반이며, 전화번호마다 튜플을 1개씩 두도록 나누어야 한다. 정규화 단계는 “도부이결다조”(도메인 원자화, 부분 종속 제거, 이행 종속 제거, 결정자를 후보키로, 다치 종속 제거, 조인 종속 제거)로 외운다.'),
('minji@example.com', '데이터베이스 정규화',
 '시스템 성능을 높이려고 정규화된 엔터티를 통합, 중복, 분할하는 과정은?',
 '["정규화", "반정규화", "인덱싱", "트리거"]', '반정규화',
 '반정규화(역정규화)는 정규화된 데이터 모델에서 조회 성능을 높이거나 개발을 단순하게 하려고 일부러 중복을 허용하는 기법이다. 테이블 통합, 테이블 분할(수평 분할, 수직 분할), 중복 테이블 추가, 중복 속성 추가가 있다. 예를 들어 조인을 3번 거쳐야 하는 조회가 자주 일어나면 필요한 속성을 중복으로 두어 조인 횟수를 줄인다. 그 대신 데이터의 일관성과 무결성이 깨질 위험이 커진다.'),
('minji@example.com', '데이터베이스 정규화',
 '릴레이션 R(A, B, C, D)의 기본키가 (A, B)이고 함수 종속 A → C가 있을 때, R이 만족하는 가장 높은 정규형은?',
 '["제1정규형", "제2정규형", "제3정규형", "BCNF"]', '제1정규형',
 '기본키 (A, B)의 일부인 A만으로 C가 결정되므로 C는 기본키에 부분 함수 종속이다. 부분 함수 종속이 있으면 2NF를 만족하지 못하므로 R은 1NF까지만 만족한다. R을 R1(A, C)과 R2(A, B, D)의 2개 릴레이션으로 분해하면 부분 종속이 사라져 2NF가 된다.'),
-- 트랜잭션
('minji@example.com', '트랜잭션',
 '트랜잭션의 연산이 데이터베이스에 모두 반영되거나 전혀 반영되지 않아야 한다는 특성은?',
 '["원자성", "일관성", "격리성", "영속성"]', '원자성',
 '트랜잭션의 특성은 ACID의 4가지이다. 원자성(Atomicity)은 All or Nothing으로, 트랜잭션의 연산이 모두 반영(Commit)되거나 하나도 반영되지 않아야(Rollback) 한다. 일관성(Consistency)은 실행 전후에 데이터베이스가 일관된 상태를 유지하는 것, 격리성(Isolation)은 실행 중인 트랜잭션에 다른 트랜잭션이 끼어들 수 없는 것, 영속성(Durability)은 완료된 결과가 장애가 나도 영구히 남는 것이다.'),
('minji@example.com', '트랜잭션',
 'SQL 표준의 트랜잭션 격리 수준 중 가장 높은 수준은?',
 '["Read Uncommitted", "Read Committed", "Repeatable Read", "Serializable"]', 'Serializable',
 'SQL 표준은 격리 수준을 4단계로 정의한다. 낮은 것부터 Read Uncommitted(Dirty Read 발생), Read Committed(Non-Repeatable Read 발생), Repeatable Read(Phantom Read 발생), Serializable(3가지 현상을 모두 방지)이다. 격리 수준이 높을수록 일관성은 높아지지만 동시성은 떨어진다. PostgreSQL의 기본 격리 수준은 Read Committed이다.'),
('minji@example.com', '트랜잭션',
 '2단계 로킹 규약(2PL)에 대한 설명으로 옳은 것은?',
 '["확장 단계에서는 잠금을 해제할 수 있다", "축소 단계에서는 새로운 잠금을 얻을 수 없다", "교착 상태를 완전히 막는다", "직렬 가능성을 보장하지 못한다"]',
 '축소 단계에서는 새로운 잠금을 얻을 수 없다',
 '2단계 로킹(Two-Phase Locking) 규약은 트랜잭션을 잠금(lock)만 할 수 있는 확장 단계와 잠금 해제(unlock)만 할 수 있는 축소 단계의 2단계로 나눈다. 이 규약을 지키면 직렬 가능성(Serializability)이 보장되지만, 교착 상태(Deadlock)는 생길 수 있다.'),
('minji@example.com', '트랜잭션',
 '로그를 이용한 회복 기법 중 즉시 갱신(Immediate Update) 기법에서 장애가 발생했을 때 필요한 연산은?',
 '["REDO만 필요", "UNDO만 필요", "REDO와 UNDO 모두 필요", "REDO와 UNDO 모두 불필요"]',
 'REDO와 UNDO 모두 필요',
 '즉시 갱신 기법은 트랜잭션이 실행되는 동안 변경 내용을 바로 데이터베이스에 기록하므로, 장애가 나면 커밋된 트랜잭션은 REDO, 커밋되지 않은 트랜잭션은 UNDO를 해야 한다. 지연 갱신(Deferred Update) 기법은 커밋 전까지 데이터베이스에 기록하지 않으므로 UNDO가 필요 없고 REDO만 한다. 검사점(Checkpoint) 기법은 마지막 검사점 이후의 로그만 살펴 회복 시간을 줄인다.'),
('minji@example.com', '트랜잭션',
 '트랜잭션의 마지막 연산을 실행한 직후, Commit 연산을 실행하기 직전의 상태는?',
 '["활동(Active)", "부분 완료(Partially Committed)", "완료(Committed)", "철회(Aborted)"]',
 '부분 완료(Partially Committed)',
 '트랜잭션의 상태는 활동, 부분 완료, 완료, 실패, 철회의 5가지이다. 활동은 실행 중인 상태, 부분 완료는 마지막 연산까지 실행했지만 Commit 연산을 실행하기 직전의 상태, 완료는 Commit 연산을 실행한 뒤의 상태, 실패는 실행 중 오류가 나서 중단된 상태, 철회는 비정상 종료되어 Rollback 연산을 수행한 상태이다.'),
('minji@example.com', '트랜잭션',
 '두 트랜잭션이 같은 데이터를 동시에 갱신하여 한 트랜잭션의 갱신 결과가 사라지는 현상은?',
 '["갱신 분실(Lost Update)", "모순성(Inconsistency)", "연쇄 복귀(Cascading Rollback)", "비완료 의존성(Uncommitted Dependency)"]',
 '갱신 분실(Lost Update)',
 '병행 제어를 하지 않으면 4가지 문제가 생길 수 있다. 갱신 분실은 2개 이상의 트랜잭션이 같은 데이터를 갱신할 때 한쪽의 갱신 결과가 덮어써져 사라지는 현상이다. 모순성은 두 트랜잭션이 동시에 실행되어 데이터가 서로 맞지 않게 되는 현상, 연쇄 복귀는 한 트랜잭션이 취소되면 그 결과를 읽은 다른 트랜잭션도 함께 취소되는 현상, 비완료 의존성은 커밋되지 않은 값을 다른 트랜잭션이 읽는 현상이다.'),
('minji@example.com', '트랜잭션',
 '로킹 단위(Locking Granularity)에 대한 설명으로 옳은 것은?',
 '["로킹 단위가 크면 병행성 수준이 높아진다", "로킹 단위가 작으면 로크의 수가 적어진다", "로킹 단위가 크면 로킹 오버헤드가 줄어든다", "로킹 단위는 데이터베이스 전체로만 정할 수 있다"]',
 '로킹 단위가 크면 로킹 오버헤드가 줄어든다',
 '로킹 단위는 데이터베이스, 파일, 레코드, 필드처럼 잠금을 거는 대상의 크기이다. 로킹 단위가 크면 로크의 수가 적어 관리가 쉽고 오버헤드가 줄지만 병행성 수준은 낮아진다. 반대로 로킹 단위가 작으면 로크의 수가 많아 오버헤드는 늘지만 병행성 수준은 높아진다. 예를 들어 레코드가 10,000건인 테이블 전체를 잠그면 로크는 1개지만, 레코드 단위로 잠그면 최대 10,000개의 로크를 관리해야 한다.'),
('minji@example.com', '트랜잭션',
 '트랜잭션이 시스템에 들어온 시각을 부여하고 그 순서대로 실행 순서를 정하는 병행 제어 기법은?',
 '["로킹", "타임스탬프 순서", "낙관적 검증", "다중 버전 동시성 제어"]', '타임스탬프 순서',
 '타임스탬프 순서(Timestamp Ordering) 기법은 트랜잭션이 시스템에 들어온 시각에 타임스탬프를 부여하고, 타임스탬프가 작은(먼저 들어온) 트랜잭션부터 실행 순서를 정한다. 잠금을 쓰지 않으므로 교착 상태가 생기지 않는다. 낙관적 검증(Validation) 기법은 실행 중에는 검사하지 않고 판독, 확인, 기록의 3단계 중 확인 단계에서 검사한다. 다중 버전 동시성 제어(MVCC)는 데이터의 여러 버전을 두어 읽기와 쓰기가 서로를 막지 않게 한다.'),
-- 네트워크
('minji@example.com', '네트워크',
 'OSI 7계층 중 종단 간(End-to-End) 신뢰성 있는 데이터 전송을 담당하며 TCP와 UDP가 속한 계층은?',
 '["네트워크 계층", "전송 계층", "세션 계층", "데이터 링크 계층"]', '전송 계층',
 'OSI 참조 모델은 7계층으로, 아래부터 물리, 데이터 링크, 네트워크, 전송, 세션, 표현, 응용 계층이다. 전송 계층은 4계층으로 종단 간 신뢰성 있는 전송, 흐름 제어, 오류 제어를 맡으며 TCP와 UDP가 여기에 속한다. 네트워크 계층은 3계층으로 경로 설정(라우팅)을 맡으며 IP가 속한다.'),
('minji@example.com', '네트워크',
 'TCP 연결 설정 과정(3-way handshake)에서 주고받는 세그먼트의 순서로 옳은 것은?',
 '["SYN → SYN+ACK → ACK", "SYN → ACK → FIN", "ACK → SYN → SYN+ACK", "SYN → FIN → ACK"]',
 'SYN → SYN+ACK → ACK',
 'TCP는 연결형 프로토콜로, 데이터를 보내기 전에 3-way handshake로 연결을 설정한다. 클라이언트가 SYN을 보내고, 서버가 SYN+ACK로 응답하고, 클라이언트가 ACK를 보내면 연결이 수립된다. 연결 종료는 FIN과 ACK를 주고받는 4-way handshake로 이루어진다. TCP 헤더의 크기는 옵션이 없을 때 20바이트이다.'),
('minji@example.com', '네트워크',
 'IPv6에 대한 설명으로 옳지 않은 것은?',
 '["주소 길이는 128비트이다", "16비트씩 8부분을 콜론(:)으로 구분한다", "브로드캐스트 주소를 사용한다", "IPv4보다 보안 기능(IPSec)이 강화되었다"]',
 '브로드캐스트 주소를 사용한다',
 'IPv4 주소는 32비트로, 8비트씩 4부분을 점(.)으로 구분해 10진수로 표기하며 약 43억 개의 주소를 만들 수 있다. IPv6 주소는 128비트로, 16비트씩 8부분을 콜론(:)으로 구분해 16진수로 표기한다. IPv6의 주소 체계는 유니캐스트, 멀티캐스트, 애니캐스트의 3가지이며, IPv4의 브로드캐스트는 없고 멀티캐스트가 그 역할을 대신한다.'),
('minji@example.com', '네트워크',
 '192.168.1.0/26 네트워크에서 서브넷 하나에 호스트용으로 할당할 수 있는 IP 주소의 수는?',
 '["30개", "62개", "64개", "126개"]', '62개',
 '/26은 네트워크 부분이 26비트라는 뜻이므로 호스트 부분은 32 - 26 = 6비트이다. 6비트로 만들 수 있는 주소는 2의 6제곱인 64개이고, 그중 네트워크 주소 1개와 브로드캐스트 주소 1개를 빼면 호스트에 할당할 수 있는 주소는 62개이다. 이때 서브넷 마스크는 255.255.255.192이다.'),
('minji@example.com', '네트워크',
 '거리 벡터 알고리즘을 사용하며 최대 홉 수가 15로 제한되는 라우팅 프로토콜은?',
 '["RIP", "OSPF", "BGP", "EIGRP"]', 'RIP',
 'RIP(Routing Information Protocol)는 거리 벡터 라우팅 프로토콜로, 벨만-포드 알고리즘을 쓰고 홉 수를 거리로 삼는다. 최대 홉 수는 15이며, 16이면 도달할 수 없는 네트워크로 본다. 라우팅 정보는 30초마다 이웃 라우터와 교환한다. OSPF는 다익스트라 알고리즘을 쓰는 링크 상태 라우팅 프로토콜이고, BGP는 자율 시스템(AS) 사이의 라우팅에 쓰인다.'),
('minji@example.com', '네트워크',
 '잘 알려진 포트(Well-known Port) 번호의 연결로 옳지 않은 것은?',
 '["HTTP - 80", "HTTPS - 443", "SSH - 22", "DNS - 25"]', 'DNS - 25',
 '0번부터 1023번까지는 잘 알려진 포트로 주요 서비스에 예약되어 있다. FTP는 20번(데이터)과 21번(제어), SSH는 22번, Telnet은 23번, SMTP는 25번, DNS는 53번, HTTP는 80번, HTTPS는 443번을 쓴다. 따라서 25번은 DNS가 아니라 SMTP의 포트이다.'),
('minji@example.com', '네트워크',
 'UDP에 대한 설명으로 옳은 것은?',
 '["연결형 프로토콜이다", "흐름 제어와 순서 제어를 제공한다", "헤더가 8바이트로 단순하여 실시간 전송에 유리하다", "3-way handshake로 연결을 설정한다"]',
 '헤더가 8바이트로 단순하여 실시간 전송에 유리하다',
 'UDP(User Datagram Protocol)는 비연결형 프로토콜로, 연결을 설정하지 않고 데이터그램을 보낸다. 흐름 제어, 순서 제어, 재전송을 하지 않아 신뢰성은 낮지만, 헤더가 8바이트로 TCP의 최소 20바이트보다 작고 처리가 빨라 DNS 조회나 음성, 영상 스트리밍 같은 실시간 전송에 쓰인다.'),
('minji@example.com', '네트워크',
 'IP 주소를 물리 주소(MAC 주소)로 변환하는 프로토콜은?',
 '["ARP", "RARP", "ICMP", "IGMP"]', 'ARP',
 'ARP(Address Resolution Protocol)는 IP 주소를 MAC 주소로 변환하고, RARP는 반대로 MAC 주소를 IP 주소로 변환한다. MAC 주소는 48비트로, 보통 16진수 2자리씩 6묶음을 하이픈이나 콜론으로 구분해 표기한다. ICMP는 오류 메시지와 제어 메시지를 전달하는 프로토콜로 ping 명령이 이를 사용한다.'),
-- 운영체제
('minji@example.com', '운영체제',
 '교착 상태(Deadlock)가 발생하기 위한 필요 조건이 아닌 것은?',
 '["상호 배제", "점유와 대기", "비선점", "선점"]', '선점',
 '교착 상태는 상호 배제(Mutual Exclusion), 점유와 대기(Hold and Wait), 비선점(Non-preemption), 환형 대기(Circular Wait)의 4가지 조건이 모두 성립할 때 생길 수 있다. 4가지 중 1개라도 성립하지 않게 하면 교착 상태를 예방할 수 있다. 선점(Preemption)은 오히려 비선점 조건을 깨뜨려 교착 상태를 예방하는 방법이다.'),
('minji@example.com', '운영체제',
 '다익스트라가 제안한 교착 상태 회피 기법은?',
 '["은행원 알고리즘", "자원 할당 그래프", "타임아웃", "우선순위 상속"]', '은행원 알고리즘',
 '은행원 알고리즘(Banker''s Algorithm)은 다익스트라(E. J. Dijkstra)가 제안한 교착 상태 회피(Avoidance) 기법이다. 프로세스가 자원을 요청하면, 할당한 뒤에도 모든 프로세스가 끝날 수 있는 안전 상태(Safe State)가 유지될 때만 자원을 할당한다. 교착 상태를 해결하는 방법은 예방, 회피, 발견, 회복의 4가지이다.'),
('minji@example.com', '운영체제',
 '페이지 프레임이 3개이고 참조열이 1, 2, 3, 1, 4, 2, 5일 때 FIFO 교체 알고리즘의 페이지 부재 횟수는?',
 '["4회", "5회", "6회", "7회"]', '5회',
 'FIFO(First In First Out)는 가장 먼저 들어온 페이지를 먼저 교체한다. 프레임 3개에 1, 2, 3이 차례로 들어오며 부재가 3회 나고, 다음 1은 이미 있으므로 적중이다. 4는 가장 먼저 들어온 1을 내보내며 부재, 2는 적중, 5는 그다음으로 오래된 2를 내보내며 부재이다. 따라서 페이지 부재는 모두 5회이다.'),
('minji@example.com', '운영체제',
 'HRN 스케줄링에서 우선순위를 계산하는 식은?',
 '["(대기 시간 + 서비스 시간) / 서비스 시간", "서비스 시간 / 대기 시간", "(대기 시간 - 서비스 시간) / 대기 시간", "대기 시간 × 서비스 시간"]',
 '(대기 시간 + 서비스 시간) / 서비스 시간',
 'HRN(Highest Response-ratio Next)은 SJF의 약점인 기아 현상을 보완한 비선점 스케줄링이다. 우선순위는 (대기 시간 + 서비스 시간) / 서비스 시간이며, 값이 클수록 먼저 실행된다. 예를 들어 대기 시간이 10초, 서비스 시간이 5초인 작업의 우선순위는 (10 + 5) / 5 = 3이다. 오래 기다린 작업일수록 값이 커지므로 기아 현상이 줄어든다.'),
('minji@example.com', '운영체제',
 '라운드 로빈(Round Robin) 스케줄링에 대한 설명으로 옳지 않은 것은?',
 '["선점형 스케줄링이다", "시간 할당량이 매우 크면 FCFS와 같아진다", "시간 할당량이 작을수록 문맥 교환 오버헤드가 줄어든다", "시분할 시스템을 위해 고안되었다"]',
 '시간 할당량이 작을수록 문맥 교환 오버헤드가 줄어든다',
 '라운드 로빈은 프로세스마다 같은 크기의 시간 할당량(Time Quantum)만큼 CPU를 쓰게 하고, 다 끝내지 못하면 준비 큐의 맨 뒤로 보내는 선점형 방식이다. 시간 할당량이 너무 크면 FCFS와 같아지고, 너무 작으면 문맥 교환이 잦아져 오버헤드가 커진다. 예를 들어 시간 할당량이 4ms이고 실행 시간이 10ms인 프로세스는 CPU를 3번 받아 4ms, 4ms, 2ms씩 실행된다.'),
('minji@example.com', '운영체제',
 '다익스트라가 제안한, P 연산과 V 연산으로 상호 배제를 구현하는 기법은?',
 '["세마포어", "모니터", "데커 알고리즘", "피터슨 알고리즘"]', '세마포어',
 '세마포어(Semaphore)는 다익스트라가 제안한 상호 배제 기법으로, 정수 변수 S와 P, V 두 연산으로 이루어진다. P 연산(wait)은 S를 1 감소시키고 S가 0보다 작으면 프로세스를 대기시키며, V 연산(signal)은 S를 1 증가시키고 대기 중인 프로세스를 깨운다. S의 초기값이 1이면 이진 세마포어로, 한 번에 프로세스 1개만 임계 구역에 들어갈 수 있다.'),
('minji@example.com', '운영체제',
 '페이징 기법에서 페이지 크기가 작을 때의 특징으로 옳은 것은?',
 '["페이지 테이블의 크기가 작아진다", "내부 단편화가 줄어든다", "입출력 횟수가 줄어든다", "기억 장치 효율이 떨어진다"]',
 '내부 단편화가 줄어든다',
 '페이지 크기가 작으면 페이지 수가 많아져 페이지 테이블이 커지고 입출력 횟수가 늘지만, 내부 단편화가 줄고 필요한 내용만 적재할 수 있어 기억 장치 효율은 높아진다. 페이지 크기가 크면 그 반대이다. 예를 들어 4KB 페이지에 10KB 프로세스를 적재하면 페이지가 3개 필요하고, 마지막 페이지에서 2KB의 내부 단편화가 생긴다.'),
('minji@example.com', '운영체제',
 'RAID 5에 대한 설명으로 옳은 것은?',
 '["최소 2개의 디스크로 구성한다", "패리티 정보를 여러 디스크에 분산 저장한다", "디스크 2개가 동시에 고장 나도 복구할 수 있다", "미러링만으로 데이터를 보호한다"]',
 '패리티 정보를 여러 디스크에 분산 저장한다',
 'RAID 5는 블록 단위 스트라이핑에 패리티를 모든 디스크에 분산 저장하는 방식으로, 최소 3개의 디스크가 필요하다. 디스크 1개가 고장 나면 패리티로 복구할 수 있지만 2개가 동시에 고장 나면 복구할 수 없다. 디스크 1개 분량이 패리티로 쓰이므로 1TB 디스크 4개로 구성하면 쓸 수 있는 용량은 3TB이다. 디스크 2개의 고장까지 견디려면 이중 패리티를 쓰는 RAID 6(최소 4개 디스크)을 쓴다.'),
-- 소프트웨어 공학
('minji@example.com', '소프트웨어 공학',
 '응집도(Cohesion)가 가장 높은 것은?',
 '["기능적 응집도", "순차적 응집도", "교환적 응집도", "우연적 응집도"]', '기능적 응집도',
 '응집도는 모듈 안의 구성 요소가 서로 관련된 정도로, 높을수록 좋다. 높은 것부터 기능적, 순차적, 교환적, 절차적, 시간적, 논리적, 우연적 응집도의 7단계이다. 기능적 응집도는 모듈 안의 모든 기능이 단일 문제와 관련되어 수행되는 경우이다. 좋은 설계는 응집도는 높이고 결합도는 낮춘다.'),
('minji@example.com', '소프트웨어 공학',
 '결합도(Coupling)가 가장 낮은 것은?',
 '["자료 결합도", "스탬프 결합도", "제어 결합도", "내용 결합도"]', '자료 결합도',
 '결합도는 모듈 사이의 상호 의존 정도로, 낮을수록 좋다. 낮은 것부터 자료, 스탬프, 제어, 외부, 공통, 내용 결합도의 6단계이다. 자료 결합도는 모듈 간 인터페이스로 단순한 값만 전달하는 경우이고, 내용 결합도는 한 모듈이 다른 모듈의 내부 기능이나 데이터를 직접 참조하는 가장 나쁜 경우이다.'),
('minji@example.com', '소프트웨어 공학',
 'COCOMO 모델에서 5만(50,000) 라인 이하의 사무 처리용 소프트웨어에 적용하는 유형은?',
 '["조직형(Organic)", "반분리형(Semi-detached)", "내장형(Embedded)", "혼합형(Hybrid)"]', '조직형(Organic)',
 'COCOMO는 보헴(Boehm)이 제안한, 원시 코드 라인 수(LOC)를 바탕으로 하는 비용 산정 모델이다. 조직형(Organic)은 50,000라인 이하의 사무 처리용, 업무용 소프트웨어, 반분리형(Semi-detached)은 300,000라인 이하의 컴파일러나 인터프리터 같은 유틸리티, 내장형(Embedded)은 300,000라인 이상의 최대형 처리 시스템이나 운영체제에 적용한다.'),
('minji@example.com', '소프트웨어 공학',
 'LOC 기법에서 낙관치 20,000라인, 중간치 30,000라인, 비관치 46,000라인일 때 예측치는?',
 '["30,000라인", "31,000라인", "32,000라인", "33,000라인"]', '31,000라인',
 'LOC(Lines of Code) 기법은 원시 코드 라인 수의 낙관치, 중간치, 비관치로 예측치를 구해 비용을 산정한다. 예측치 = (낙관치 + 4 × 중간치 + 비관치) / 6이므로 (20,000 + 4 × 30,000 + 46,000) / 6 = 186,000 / 6 = 31,000라인이다. 개발자 1명이 한 달에 500라인을 작성한다면 31,000 / 500 = 62이므로 62인월(Man-Month)이 걸린다.'),
('minji@example.com', '소프트웨어 공학',
 '스크럼(Scrum)에서 보통 2~4주 단위로 반복되는 짧은 개발 주기는?',
 '["스프린트", "제품 백로그", "번다운 차트", "데일리 스크럼"]', '스프린트',
 '스크럼은 반복적, 점진적으로 개발하는 애자일 방법론이다. 스프린트(Sprint)는 보통 2~4주의 짧은 개발 기간으로, 스프린트마다 동작하는 제품을 만든다. 팀은 매일 15분 정도 서서 진행 상황을 나누는 데일리 스크럼 회의를 하고, 남은 작업량은 번다운 차트로 보여 준다. 제품 백로그는 제품에 필요한 요구사항을 우선순위대로 정리한 목록이다.'),
('minji@example.com', '소프트웨어 공학',
 '블랙박스 테스트 기법이 아닌 것은?',
 '["동등 분할", "경계값 분석", "원인-결과 그래프", "기초 경로 검사"]', '기초 경로 검사',
 '블랙박스 테스트는 소프트웨어의 내부 구조를 보지 않고 명세에 따라 입력과 출력을 검사하는 기법으로, 동등 분할, 경계값 분석, 원인-결과 그래프, 오류 예측, 비교 검사가 있다. 기초 경로 검사와 제어 구조 검사는 화이트박스 테스트 기법이다. 예를 들어 점수가 0점 이상 100점 이하인 입력을 경계값 분석으로 시험하면 -1, 0, 100, 101처럼 경계 바로 안팎의 값을 넣는다.'),
('minji@example.com', '소프트웨어 공학',
 '제어 흐름 그래프에서 간선(Edge)이 9개, 노드(Node)가 7개일 때 맥케이브의 순환 복잡도는?',
 '["2", "3", "4", "5"]', '4',
 '맥케이브(McCabe)의 순환 복잡도는 V(G) = E - N + 2로 구한다(E는 간선 수, N은 노드 수). 간선이 9개, 노드가 7개이면 9 - 7 + 2 = 4이다. 순환 복잡도는 프로그램의 독립 경로 수를 뜻하며, 기초 경로 검사에 필요한 최소 테스트 케이스 수가 된다. 맥케이브는 값이 10을 넘는 모듈은 나누기를 권했다.'),
('minji@example.com', '소프트웨어 공학',
 'GoF 디자인 패턴 중 생성 패턴에 해당하는 것은?',
 '["싱글톤(Singleton)", "어댑터(Adapter)", "옵서버(Observer)", "프록시(Proxy)"]', '싱글톤(Singleton)',
 'GoF(Gang of Four) 디자인 패턴은 23가지이며 생성, 구조, 행위 패턴의 3가지로 나뉜다. 생성 패턴은 추상 팩토리, 빌더, 팩토리 메서드, 프로토타입, 싱글톤의 5가지, 구조 패턴은 어댑터, 브리지, 컴포지트, 데코레이터, 퍼사드, 플라이웨이트, 프록시의 7가지, 행위 패턴은 옵서버, 전략, 커맨드 등 11가지이다. 싱글톤은 클래스의 인스턴스를 1개만 만들고 어디서든 그 인스턴스에 접근하게 하는 패턴이다.'),
-- 박준호: a few rows on the same subjects as 김민지's, to show isolation.
('junho@example.com', '네트워크 복습',
 'TCP 연결을 종료할 때 사용하는 절차는?',
 '["2-way handshake", "3-way handshake", "4-way handshake", "5-way handshake"]', '4-way handshake',
 'TCP 연결 종료는 4-way handshake로 이루어진다. 종료를 원하는 쪽이 FIN을 보내면 상대가 ACK로 답하고, 상대도 보낼 데이터를 다 보낸 뒤 FIN을 보내면 처음 쪽이 ACK로 답한다. 마지막 ACK를 보낸 쪽은 TIME_WAIT 상태에서 잠시 기다린 뒤 연결을 닫는다.'),
('junho@example.com', '네트워크 복습',
 '스위치가 동작하는 OSI 계층은?',
 '["1계층", "2계층", "3계층", "4계층"]', '2계층',
 '스위치와 브리지는 MAC 주소를 보고 프레임을 전달하므로 OSI 2계층인 데이터 링크 계층에서 동작한다. 리피터와 허브는 1계층, 라우터는 IP 주소로 경로를 정하므로 3계층 장비이다.');

INSERT INTO sample_note VALUES
('minji@example.com', '네트워크', 'OSI 7계층과 TCP/IP 4계층 정리',
 'OSI 7계층은 1계층 물리, 2계층 데이터 링크, 3계층 네트워크, 4계층 전송, 5계층 세션, 6계층 표현, 7계층 응용이다. “물데네전세표응”으로 외운다. TCP/IP 4계층은 네트워크 액세스, 인터넷, 전송, 응용 계층이다. 장비는 리피터와 허브가 1계층, 브리지와 스위치가 2계층, 라우터가 3계층에서 동작한다. 전송 단위는 2계층이 프레임, 3계층이 패킷, 4계층이 세그먼트이다.'),
('minji@example.com', '데이터베이스 정규화', '정규화 단계 암기법',
 '“도부이결다조”: 1NF는 도메인이 원자 값, 2NF는 부분 함수 종속 제거, 3NF는 이행 함수 종속 제거, BCNF는 후보키가 아닌 결정자 제거, 4NF는 다치 종속 제거, 5NF는 조인 종속 제거. 정규화의 목적은 중복을 줄이고 삽입, 삭제, 갱신 이상을 막는 것이다. 정규화할수록 테이블이 늘고 조인이 많아져 조회가 느려질 수 있으므로, 필요하면 반정규화를 검토한다.'),
('junho@example.com', '네트워크 복습', 'TCP 메모',
 'TCP 연결 설정은 3-way handshake(SYN, SYN+ACK, ACK), 연결 종료는 4-way handshake(FIN, ACK, FIN, ACK)이다. 잘 알려진 포트는 0번부터 1023번까지이다.');

INSERT INTO sample_chunk VALUES
('minji@example.com', '운영체제 요약 노트: 메모리 관리', 1,
 '가상 기억 장치는 보조 기억 장치의 일부를 주기억 장치처럼 쓰는 기법이다. 프로그램을 같은 크기의 페이지로 나누는 페이징 기법과 논리적 단위인 세그먼트로 나누는 세그먼테이션 기법이 있다. 페이징은 외부 단편화가 없지만 내부 단편화가 생길 수 있고, 세그먼테이션은 내부 단편화가 없지만 외부 단편화가 생길 수 있다.'),
('minji@example.com', '운영체제 요약 노트: 메모리 관리', 2,
 '페이지 교체 알고리즘에는 OPT, FIFO, LRU, LFU, NUR, SCR이 있다. OPT는 앞으로 가장 오랫동안 쓰지 않을 페이지를 교체하는 최적 기법이지만 미래의 참조를 알아야 하므로 실제로 구현하기 어렵다. LRU는 가장 오랫동안 쓰지 않은 페이지를, LFU는 사용 빈도가 가장 적은 페이지를 교체한다. NUR은 참조 비트와 변형 비트의 2개 비트를 쓴다.'),
('minji@example.com', '운영체제 요약 노트: 메모리 관리', 3,
 '스래싱(Thrashing)은 페이지 교체가 너무 자주 일어나 프로세스를 처리하는 시간보다 페이지 교체에 드는 시간이 더 많아지는 현상이다. 다중 프로그래밍 정도가 지나치게 높으면 CPU 이용률이 급격히 떨어진다. 워킹 셋(Working Set)을 유지하거나 페이지 부재 빈도(PFF)를 조절해 막는다.'),
('minji@example.com', '네트워크 강의 정리: TCP/IP', 1,
 'TCP는 신뢰성 있는 연결형 서비스를 제공한다. 순서 번호와 확인 응답(ACK)으로 세그먼트의 순서와 도착을 보장하고, 슬라이딩 윈도우로 흐름 제어를 한다. 혼잡 제어의 슬로 스타트는 혼잡 윈도우를 1부터 시작해 왕복 시간마다 2배씩 늘리다가 임계값에 이르면 1씩 늘린다.'),
('minji@example.com', '네트워크 강의 정리: TCP/IP', 2,
 'IPv4 주소는 A부터 E까지 5개 클래스로 나눈다. 첫 옥텟이 A 클래스는 0~127, B 클래스는 128~191, C 클래스는 192~223이다. C 클래스의 기본 서브넷 마스크는 255.255.255.0으로, 네트워크 하나에 호스트를 254개까지 둘 수 있다. 사설 IP 대역은 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16이다.'),
('minji@example.com', '네트워크 강의 정리: TCP/IP', 3,
 'IPv4에서 IPv6로 전환하는 방법에는 듀얼 스택, 터널링, 주소 변환이 있다. 듀얼 스택은 한 장비에서 IPv4와 IPv6를 함께 운영하고, 터널링은 IPv6 패킷을 IPv4 패킷 안에 넣어 전달한다. IPv6 기본 헤더는 40바이트 고정 길이이며, 필요한 기능은 확장 헤더로 붙인다.'),
('minji@example.com', '소프트웨어 공학 기출 메모: 테스트와 품질', 1,
 'V 모델에서 단위 테스트는 모듈 설계를, 통합 테스트는 아키텍처 설계를, 시스템 테스트는 시스템 요구사항을, 인수 테스트는 사용자 요구사항을 검증한다. 알파 테스트는 개발자 환경에서 사용자가, 베타 테스트는 사용자 환경에서 사용자가 직접 수행한다.'),
('minji@example.com', '소프트웨어 공학 기출 메모: 테스트와 품질', 2,
 '하향식 통합 테스트는 상위 모듈부터 검사하며, 아직 없는 하위 모듈을 대신하는 스텁(Stub)이 필요하다. 상향식 통합 테스트는 하위 모듈부터 검사하며, 상위 모듈 역할을 하는 테스트 드라이버(Driver)가 필요하다. 빅뱅 방식은 모든 모듈을 한꺼번에 결합해 시험한다.'),
('minji@example.com', '소프트웨어 공학 기출 메모: 테스트와 품질', 3,
 'ISO/IEC 9126의 품질 특성은 기능성, 신뢰성, 사용성, 효율성, 유지 보수성, 이식성의 6가지이다. 이를 이은 ISO/IEC 25010은 호환성과 보안성을 더해 8가지 특성으로 이루어진다. 구문 커버리지는 모든 문장을 1번 이상, 결정 커버리지는 모든 분기의 참과 거짓을 1번 이상 수행하는 것을 목표로 한다.'),
('junho@example.com', '라우팅 프로토콜 정리', 1,
 'RIP는 최대 홉 수가 15인 거리 벡터 프로토콜이고, OSPF는 링크 상태 프로토콜이다. BGP는 자율 시스템 사이의 경로를 교환한다.');

-- Users, then topics, by natural key.
INSERT INTO users (email, display_name)
SELECT s.email, s.display_name FROM sample_user s
 WHERE NOT EXISTS (SELECT FROM users u WHERE u.email = s.email);

INSERT INTO study_topics (user_id, name)
SELECT u.id, s.name FROM sample_topic s JOIN users u ON u.email = s.email
 WHERE NOT EXISTS (SELECT FROM study_topics t WHERE t.user_id = u.id AND t.name = s.name);

-- Questions by (user, stem). The explanation timestamp is the demo's to set.
CREATE TEMP TABLE sample_question_row ON COMMIT DROP AS
SELECT u.id AS user_id, t.id AS topic_id, s.stem, s.choices, s.answer, s.explanation
  FROM sample_question s
  JOIN users u ON u.email = s.email
  JOIN study_topics t ON t.user_id = u.id AND t.name = s.topic;

UPDATE study_questions q
   SET topic_id = s.topic_id, choices = s.choices, answer = s.answer, ai_explanation = s.explanation
  FROM sample_question_row s
 WHERE q.user_id = s.user_id AND q.stem = s.stem AND q.deleted_at IS NULL
   AND (q.topic_id, q.choices, q.answer, q.ai_explanation)
       IS DISTINCT FROM (s.topic_id, s.choices, s.answer, s.explanation);

INSERT INTO study_questions (user_id, topic_id, stem, choices, answer, ai_explanation)
SELECT s.user_id, s.topic_id, s.stem, s.choices, s.answer, s.explanation FROM sample_question_row s
 WHERE NOT EXISTS (SELECT FROM study_questions q
                    WHERE q.user_id = s.user_id AND q.stem = s.stem AND q.deleted_at IS NULL);

-- Subject notes by (user, title); a changed body is a new version (updated_at).
CREATE TEMP TABLE sample_note_row ON COMMIT DROP AS
SELECT u.id AS user_id, t.id AS topic_id, s.title, s.body
  FROM sample_note s
  JOIN users u ON u.email = s.email
  JOIN study_topics t ON t.user_id = u.id AND t.name = s.topic;

UPDATE study_subject_notes n
   SET topic_id = s.topic_id, body = s.body, updated_at = now()
  FROM sample_note_row s
 WHERE n.user_id = s.user_id AND n.title = s.title AND n.deleted_at IS NULL
   AND (n.topic_id, n.body) IS DISTINCT FROM (s.topic_id, s.body);

INSERT INTO study_subject_notes (user_id, topic_id, title, body)
SELECT s.user_id, s.topic_id, s.title, s.body FROM sample_note_row s
 WHERE NOT EXISTS (SELECT FROM study_subject_notes n
                    WHERE n.user_id = s.user_id AND n.title = s.title AND n.deleted_at IS NULL);

-- Documents by (user, title), chunks by (document, ord). A document whose chunks
-- change gets a new updated_at (its version); a new one keeps the one it was made with.
INSERT INTO documents (user_id, title)
SELECT DISTINCT u.id, s.document FROM sample_chunk s JOIN users u ON u.email = s.email
 WHERE NOT EXISTS (SELECT FROM documents d
                    WHERE d.user_id = u.id AND d.title = s.document AND d.deleted_at IS NULL);

CREATE TEMP TABLE sample_chunk_row ON COMMIT DROP AS
SELECT d.id AS document_id, s.ord, s.content
  FROM sample_chunk s
  JOIN users u ON u.email = s.email
  JOIN documents d ON d.user_id = u.id AND d.title = s.document AND d.deleted_at IS NULL;

WITH changed AS (
    UPDATE document_chunks c SET content = s.content
      FROM sample_chunk_row s
     WHERE c.document_id = s.document_id AND c.ord = s.ord AND c.content <> s.content
    RETURNING c.document_id
), added AS (
    INSERT INTO document_chunks (document_id, ord, content)
    SELECT s.document_id, s.ord, s.content FROM sample_chunk_row s
     WHERE NOT EXISTS (SELECT FROM document_chunks c
                        WHERE c.document_id = s.document_id AND c.ord = s.ord)
    RETURNING document_id
), removed AS (
    DELETE FROM document_chunks c
     WHERE c.document_id IN (SELECT document_id FROM sample_chunk_row)
       AND NOT EXISTS (SELECT FROM sample_chunk_row s
                        WHERE s.document_id = c.document_id AND s.ord = c.ord)
    RETURNING c.document_id
)
UPDATE documents d SET updated_at = now()
 WHERE d.id IN (SELECT document_id FROM changed UNION SELECT document_id FROM added
                UNION SELECT document_id FROM removed)
   AND d.updated_at < now();

-- Pseudo-embeddings where missing or out of date.
UPDATE study_questions q SET embedding = e.embedding
  FROM (SELECT s.user_id, s.stem, pg_temp.sample_embedding(s.stem || ' ' || s.explanation) AS embedding
          FROM sample_question_row s) AS e
 WHERE q.user_id = e.user_id AND q.stem = e.stem AND q.deleted_at IS NULL
   AND q.embedding IS DISTINCT FROM e.embedding;

UPDATE study_subject_notes n SET embedding = e.embedding
  FROM (SELECT s.user_id, s.title, pg_temp.sample_embedding(s.title || ' ' || s.body) AS embedding
          FROM sample_note_row s) AS e
 WHERE n.user_id = e.user_id AND n.title = e.title AND n.deleted_at IS NULL
   AND n.embedding IS DISTINCT FROM e.embedding;

UPDATE document_chunks c SET embedding = e.embedding
  FROM (SELECT s.document_id, s.ord, pg_temp.sample_embedding(s.content) AS embedding
          FROM sample_chunk_row s) AS e
 WHERE c.document_id = e.document_id AND c.ord = e.ord
   AND c.embedding IS DISTINCT FROM e.embedding;

COMMIT;
