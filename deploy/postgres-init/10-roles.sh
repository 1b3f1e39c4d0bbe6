#!/bin/sh
# Runs once, when the PostgreSQL container initialises an empty data directory
# (/docker-entrypoint-initdb.d). The container's superuser creates the two roles of
# docker-compose.yml (README.md, "Configuration"): the owner runs migrations and owns the
# tables; the runtime role used by the web app and the workers owns nothing and gets its table
# privileges from the owner after every migration (trial/dbroles.py).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner="$DATABASE_OWNER_USER" -v owner_password="$DATABASE_OWNER_PASSWORD" \
  -v app="$DATABASE_APP_USER" -v app_password="$DATABASE_APP_PASSWORD" \
  -v db="$DATABASE_NAME" <<'SQL'
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"owner";
\connect :"db"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";
SQL
