CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

CREATE TABLE public.study_memo_card_jobs (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    source_kind character varying(40) NOT NULL,
    source_id bigint NOT NULL,
    source_version timestamp with time zone,
    kind character varying(40) NOT NULL,
    status character varying(20) DEFAULT 'pending'::character varying NOT NULL,
    attempts smallint DEFAULT 0 NOT NULL,
    max_attempts smallint DEFAULT 2 NOT NULL,
    error_code character varying(40),
    error_message text,
    payload jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    priority smallint DEFAULT 0 NOT NULL,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    locked_by text,
    lease_expires_at timestamp with time zone,
    CONSTRAINT study_memo_card_jobs_lease_check CHECK ((((status)::text = 'processing'::text) = ((locked_by IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT study_memo_card_jobs_status_check CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, 'processing'::character varying, 'completed'::character varying, 'failed'::character varying, 'skipped'::character varying])::text[])))
);

CREATE FUNCTION public.study_card_held_job(p_job_id bigint, p_worker text) RETURNS public.study_memo_card_jobs
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    v_job study_memo_card_jobs;
BEGIN
    SELECT * INTO v_job FROM study_memo_card_jobs WHERE id = p_job_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'study card job % does not exist', p_job_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF v_job.status <> 'processing' OR v_job.locked_by IS DISTINCT FROM p_worker THEN
        RAISE EXCEPTION 'study card job % is not held by worker %', p_job_id, p_worker
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('status %s, locked by %s', v_job.status, coalesce(v_job.locked_by, 'nobody'));
    END IF;
    RETURN v_job;
END
$$;

CREATE FUNCTION public.study_card_norm(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(lower((NORMALIZE(p_text, NFKC) COLLATE "C")), '[^0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u1100-\u11FF\u3040-\u30FF\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]'::text, ''::text, 'g'::text);

CREATE FUNCTION public.study_card_source(p_kind text, p_id bigint) RETURNS TABLE(user_id bigint, topic_id bigint, version timestamp with time zone, ready boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT q.user_id, q.topic_id, q.ai_explanation_generated_at,
           q.ai_explanation_generated_at IS NOT NULL AND btrim(coalesce(q.ai_explanation, '')) <> ''
      FROM study_questions q
     WHERE p_kind = 'question' AND q.id = p_id AND q.deleted_at IS NULL
    UNION ALL
    SELECT n.user_id, n.topic_id, n.updated_at, btrim(n.body) <> ''
      FROM study_subject_notes n
     WHERE p_kind = 'subject_note' AND n.id = p_id AND n.deleted_at IS NULL
    UNION ALL
    SELECT d.user_id, NULL::bigint, d.updated_at,
           EXISTS (SELECT FROM document_chunks c WHERE c.document_id = d.id AND btrim(c.content) <> '')
      FROM documents d
     WHERE p_kind = 'document' AND d.id = p_id AND d.deleted_at IS NULL
$$;

CREATE FUNCTION public.study_card_source_problem(p_kind text, p_id bigint, p_version timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE
        WHEN s.user_id IS NULL THEN 'source_deleted'
        WHEN s.version IS NOT NULL AND s.version IS DISTINCT FROM p_version THEN 'stale_version'
        WHEN NOT s.ready OR s.version IS NULL THEN 'no_ready_explanation'
    END
      FROM (SELECT 1) AS one
      LEFT JOIN study_card_source(p_kind, p_id) AS s ON true
$$;

CREATE FUNCTION public.study_card_source_text(p_kind text, p_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT CASE p_kind
        WHEN 'question' THEN (
            SELECT concat_ws(E'\n', q.stem,
                CASE jsonb_typeof(q.choices)
                    WHEN 'array' THEN (SELECT string_agg(c.value, E'\n' ORDER BY c.ord)
                                         FROM jsonb_array_elements_text(q.choices) WITH ORDINALITY AS c(value, ord))
                    WHEN 'object' THEN (SELECT string_agg(c.key || '. ' || c.value, E'\n' ORDER BY c.key)
                                          FROM jsonb_each_text(q.choices) AS c)
                    ELSE q.choices #>> '{}'
                END,
                q.answer, q.ai_explanation)
              FROM study_questions q
             WHERE q.id = p_id AND q.deleted_at IS NULL)
        WHEN 'subject_note' THEN (
            SELECT concat_ws(E'\n', n.title, n.body)
              FROM study_subject_notes n
             WHERE n.id = p_id AND n.deleted_at IS NULL)
        WHEN 'document_chunk' THEN (
            SELECT c.content
              FROM document_chunks c JOIN documents d ON d.id = c.document_id
             WHERE c.id = p_id AND d.deleted_at IS NULL)
        WHEN 'document' THEN (
            SELECT string_agg(c.content, E'\n' ORDER BY c.ord, c.id)
              FROM documents d JOIN document_chunks c ON c.document_id = d.id
             WHERE d.id = p_id AND d.deleted_at IS NULL)
    END
$$;

CREATE TABLE public.document_chunks (
    id bigint NOT NULL,
    document_id bigint NOT NULL,
    ord integer DEFAULT 0 NOT NULL,
    content text NOT NULL,
    embedding public.vector(1024)
);

CREATE SEQUENCE public.document_chunks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.document_chunks_id_seq OWNED BY public.document_chunks.id;

CREATE TABLE public.documents (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    title text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

CREATE SEQUENCE public.documents_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.documents_id_seq OWNED BY public.documents.id;

CREATE TABLE public.study_memo_card_evidence (
    id bigint NOT NULL,
    card_id bigint NOT NULL,
    source_kind character varying(40) NOT NULL,
    source_id bigint NOT NULL,
    quote text NOT NULL
);

CREATE SEQUENCE public.study_memo_card_evidence_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_card_evidence_id_seq OWNED BY public.study_memo_card_evidence.id;

CREATE SEQUENCE public.study_memo_card_jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_card_jobs_id_seq OWNED BY public.study_memo_card_jobs.id;

CREATE TABLE public.study_memo_card_progress (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    card_id bigint NOT NULL,
    state character varying(20) DEFAULT 'new'::character varying NOT NULL,
    stability double precision,
    difficulty double precision,
    due_at timestamp with time zone,
    last_reviewed_at timestamp with time zone,
    reps integer DEFAULT 0 NOT NULL,
    lapses integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE public.study_memo_card_progress_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_card_progress_id_seq OWNED BY public.study_memo_card_progress.id;

CREATE TABLE public.study_memo_cards (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    source_kind character varying(40) NOT NULL,
    source_id bigint NOT NULL,
    source_version timestamp with time zone,
    job_id bigint,
    card_type character varying(10) NOT NULL,
    cue text,
    answer text,
    cloze_text text,
    norm_key text GENERATED ALWAYS AS (
CASE card_type
    WHEN 'qa'::text THEN ((('qa:'::text || public.study_card_norm(cue)) || '|'::text) || public.study_card_norm(answer))
    ELSE ('cloze:'::text || public.study_card_norm(cloze_text))
END) STORED,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    retired_reason character varying(40),
    superseded_by_job bigint,
    CONSTRAINT study_memo_cards_retired_check CHECK (((deleted_at IS NULL) = (retired_reason IS NULL))),
    CONSTRAINT study_memo_cards_type_check CHECK (((((card_type)::text = 'qa'::text) AND (cue IS NOT NULL) AND (answer IS NOT NULL) AND (cloze_text IS NULL)) OR (((card_type)::text = 'cloze'::text) AND (cloze_text IS NOT NULL) AND (cue IS NULL) AND (answer IS NULL))))
);

CREATE SEQUENCE public.study_memo_cards_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_memo_cards_id_seq OWNED BY public.study_memo_cards.id;

CREATE TABLE public.study_questions (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    topic_id bigint,
    stem text NOT NULL,
    choices jsonb,
    answer text,
    ai_explanation text,
    ai_explanation_generated_at timestamp with time zone,
    embedding public.vector(1024),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    needs_review boolean DEFAULT false NOT NULL,
    needs_review_reason text,
    needs_review_at timestamp with time zone
);

CREATE SEQUENCE public.study_questions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_questions_id_seq OWNED BY public.study_questions.id;

CREATE TABLE public.study_reminders (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    topic_id bigint,
    card_id bigint,
    remind_at timestamp with time zone NOT NULL,
    channel character varying(40) DEFAULT 'app'::character varying NOT NULL,
    sent_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

CREATE SEQUENCE public.study_reminders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_reminders_id_seq OWNED BY public.study_reminders.id;

CREATE TABLE public.study_subject_notes (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    topic_id bigint,
    title text DEFAULT ''::text NOT NULL,
    body text DEFAULT ''::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    embedding public.vector(1024),
    deleted_at timestamp with time zone
);

CREATE SEQUENCE public.study_subject_notes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_subject_notes_id_seq OWNED BY public.study_subject_notes.id;

CREATE TABLE public.study_topics (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    focused_at timestamp with time zone
);

CREATE SEQUENCE public.study_topics_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.study_topics_id_seq OWNED BY public.study_topics.id;

CREATE TABLE public.users (
    id bigint NOT NULL,
    email text,
    display_name text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;

ALTER TABLE ONLY public.document_chunks ALTER COLUMN id SET DEFAULT nextval('public.document_chunks_id_seq'::regclass);

ALTER TABLE ONLY public.documents ALTER COLUMN id SET DEFAULT nextval('public.documents_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_card_evidence ALTER COLUMN id SET DEFAULT nextval('public.study_memo_card_evidence_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_card_jobs ALTER COLUMN id SET DEFAULT nextval('public.study_memo_card_jobs_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_card_progress ALTER COLUMN id SET DEFAULT nextval('public.study_memo_card_progress_id_seq'::regclass);

ALTER TABLE ONLY public.study_memo_cards ALTER COLUMN id SET DEFAULT nextval('public.study_memo_cards_id_seq'::regclass);

ALTER TABLE ONLY public.study_questions ALTER COLUMN id SET DEFAULT nextval('public.study_questions_id_seq'::regclass);

ALTER TABLE ONLY public.study_reminders ALTER COLUMN id SET DEFAULT nextval('public.study_reminders_id_seq'::regclass);

ALTER TABLE ONLY public.study_subject_notes ALTER COLUMN id SET DEFAULT nextval('public.study_subject_notes_id_seq'::regclass);

ALTER TABLE ONLY public.study_topics ALTER COLUMN id SET DEFAULT nextval('public.study_topics_id_seq'::regclass);

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_evidence
    ADD CONSTRAINT study_memo_card_evidence_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_jobs
    ADD CONSTRAINT study_memo_card_jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_user_card_uniq UNIQUE (user_id, card_id);

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_questions
    ADD CONSTRAINT study_questions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_subject_notes
    ADD CONSTRAINT study_subject_notes_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.study_topics
    ADD CONSTRAINT study_topics_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX study_memo_card_evidence_card_idx ON public.study_memo_card_evidence USING btree (card_id);

CREATE INDEX study_memo_card_jobs_claim_idx ON public.study_memo_card_jobs USING btree (priority DESC, id) WHERE ((status)::text = 'pending'::text);

CREATE INDEX study_memo_card_jobs_lease_idx ON public.study_memo_card_jobs USING btree (lease_expires_at) WHERE ((status)::text = 'processing'::text);

CREATE UNIQUE INDEX study_memo_card_jobs_version_uniq ON public.study_memo_card_jobs USING btree (source_kind, source_id, source_version, kind) NULLS NOT DISTINCT;

CREATE INDEX study_memo_card_progress_due_idx ON public.study_memo_card_progress USING btree (user_id, due_at);

CREATE UNIQUE INDEX study_memo_cards_active_norm_key_uniq ON public.study_memo_cards USING btree (user_id, norm_key) WHERE (deleted_at IS NULL);

CREATE INDEX study_memo_cards_active_source_idx ON public.study_memo_cards USING btree (source_kind, source_id) WHERE (deleted_at IS NULL);

CREATE INDEX study_memo_cards_user_deleted_idx ON public.study_memo_cards USING btree (user_id, norm_key) WHERE ((retired_reason)::text = 'user_deleted'::text);

CREATE INDEX study_reminders_due_idx ON public.study_reminders USING btree (remind_at) WHERE ((sent_at IS NULL) AND (deleted_at IS NULL));

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_evidence
    ADD CONSTRAINT study_memo_card_evidence_card_id_fkey FOREIGN KEY (card_id) REFERENCES public.study_memo_cards(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_jobs
    ADD CONSTRAINT study_memo_card_jobs_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_card_id_fkey FOREIGN KEY (card_id) REFERENCES public.study_memo_cards(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_card_progress
    ADD CONSTRAINT study_memo_card_progress_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.study_memo_card_jobs(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_superseded_by_job_fkey FOREIGN KEY (superseded_by_job) REFERENCES public.study_memo_card_jobs(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_memo_cards
    ADD CONSTRAINT study_memo_cards_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_questions
    ADD CONSTRAINT study_questions_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.study_topics(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_questions
    ADD CONSTRAINT study_questions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_card_id_fkey FOREIGN KEY (card_id) REFERENCES public.study_memo_cards(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.study_topics(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_reminders
    ADD CONSTRAINT study_reminders_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_subject_notes
    ADD CONSTRAINT study_subject_notes_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.study_topics(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.study_subject_notes
    ADD CONSTRAINT study_subject_notes_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.study_topics
    ADD CONSTRAINT study_topics_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

REVOKE ALL ON FUNCTION public.study_card_held_job(p_job_id bigint, p_worker text) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source(p_kind text, p_id bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_problem(p_kind text, p_id bigint, p_version timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION public.study_card_source_text(p_kind text, p_id bigint) FROM PUBLIC;
