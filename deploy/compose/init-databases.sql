-- Caseflow on one host: a database per service on one PostgreSQL server.
-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d),
-- as the superuser named by POSTGRES_USER, who then owns every database.

CREATE DATABASE caseflow_intake;
CREATE DATABASE caseflow_cases;
CREATE DATABASE caseflow_routing;
CREATE DATABASE caseflow_sla;
CREATE DATABASE caseflow_scheduling;
CREATE DATABASE caseflow_knowledge;

-- Extensions the services rely on, created up front so a service that does not run as a
-- superuser can still use them.
\connect caseflow_scheduling
CREATE EXTENSION IF NOT EXISTS btree_gist;

\connect caseflow_knowledge
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS vector;
