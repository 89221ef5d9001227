-- OAuth clients registered by RFC 7591 Dynamic Client Registration (POST /register). Clients identified by a
-- Client ID Metadata Document (an https URL) are fetched and cached, never stored here.
-- Only public clients exist (token_endpoint_auth_method "none"), so there is no secret column.
-- Runs inside one transaction under the migration lock (see src/db/migrate.ts). Never edit once released.

CREATE TABLE oauth_clients (
  -- Random and unguessable (fpc_ + 22 base64url characters); never URL-shaped, so it cannot be mistaken for a
  -- metadata document URL.
  client_id        text PRIMARY KEY CHECK (client_id <> '' AND length(client_id) <= 255 AND position(':' IN client_id) = 0),
  client_name      text CHECK (client_name IS NULL OR (client_name <> '' AND length(client_name) <= 200)),
  client_uri       text CHECK (client_uri IS NULL OR (client_uri <> '' AND length(client_uri) <= 2000)),
  logo_uri         text CHECK (logo_uri IS NULL OR (logo_uri <> '' AND length(logo_uri) <= 2000)),
  -- Exact strings, matched exactly at /authorize. 1-10 URIs of at most 2000 characters each.
  redirect_uris    text[] NOT NULL CHECK (
    cardinality(redirect_uris) BETWEEN 1 AND 10
    AND array_position(redirect_uris, NULL) IS NULL
    AND length(array_to_string(redirect_uris, '')) <= 20000
  ),
  grant_types      text[] NOT NULL DEFAULT ARRAY['authorization_code', 'refresh_token']::text[] CHECK (
    cardinality(grant_types) >= 1 AND grant_types <@ ARRAY['authorization_code', 'refresh_token']::text[]
  ),
  response_types   text[] NOT NULL DEFAULT ARRAY['code']::text[] CHECK (
    cardinality(response_types) >= 1 AND response_types <@ ARRAY['code']::text[]
  ),
  -- Space-separated scopes the client asked for at registration (NULL: it did not say).
  scope            text CHECK (scope IS NULL OR (scope <> '' AND length(scope) <= 200)),
  software_id      text CHECK (software_id IS NULL OR length(software_id) <= 200),
  software_version text CHECK (software_version IS NULL OR length(software_version) <= 200),
  created_at       timestamptz NOT NULL DEFAULT now()
);
