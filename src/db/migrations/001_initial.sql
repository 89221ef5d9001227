-- Initial schema: users, businesses and who belongs where; the catalog; orders; API keys.
-- Runs inside one transaction under the migration lock (see src/db/migrate.ts). Never edit once released:
-- add a new numbered file instead (the checksum of an applied migration is verified at every start).

-- Trigram indexes make the case-insensitive substring search on products (ILIKE '%…%') indexable.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
  id           text PRIMARY KEY CHECK (id <> '' AND length(id) <= 255),
  email        text CHECK (email IS NULL OR (email <> '' AND length(email) <= 320)),
  display_name text CHECK (display_name IS NULL OR length(display_name) <= 200),
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE businesses (
  id         text PRIMARY KEY CHECK (id <> '' AND length(id) <= 64),
  name       text NOT NULL CHECK (name <> '' AND length(name) <= 200),
  currency   char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Lets products reference (business, currency): a product is always priced in its business's currency,
  -- so an order's lines can be summed.
  UNIQUE (id, currency)
);

CREATE TABLE memberships (
  user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  business_id text NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('owner', 'staff')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, business_id)
);
CREATE INDEX memberships_business_idx ON memberships (business_id);

CREATE TABLE products (
  business_id text NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
  sku         text NOT NULL CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name        text NOT NULL CHECK (name <> '' AND length(name) <= 200),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  currency    char(3) NOT NULL,
  stock       integer NOT NULL CHECK (stock >= 0),
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, sku),
  FOREIGN KEY (business_id, currency) REFERENCES businesses (id, currency)
);
-- Substring search: ILIKE '%text%' on name, sku and description uses these (pg_trgm handles ILIKE itself).
CREATE INDEX products_search_trgm_idx ON products USING gin (name gin_trgm_ops, sku gin_trgm_ops, description gin_trgm_ops);
-- SKU completion: case-insensitive prefix match within a business.
CREATE INDEX products_sku_prefix_idx ON products (business_id, lower(sku) text_pattern_ops);
-- Listing a catalog in display order.
CREATE INDEX products_business_name_idx ON products (business_id, lower(name), sku) WHERE active;

CREATE TABLE orders (
  id              text PRIMARY KEY CHECK (id ~ '^ord_[a-z2-7]{20}$'),
  business_id     text NOT NULL REFERENCES businesses (id),
  user_id         text NOT NULL REFERENCES users (id),
  idempotency_key text NOT NULL CHECK (idempotency_key <> '' AND length(idempotency_key) <= 255),
  cart_handle     text CHECK (cart_handle IS NULL OR length(cart_handle) <= 255),
  status          text NOT NULL DEFAULT 'placed' CHECK (status IN ('placed')),
  total_minor     bigint NOT NULL CHECK (total_minor >= 0),
  currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT orders_idempotency_key UNIQUE (business_id, user_id, idempotency_key)
);
-- A user's orders in a business, newest first.
CREATE INDEX orders_business_user_created_idx ON orders (business_id, user_id, created_at DESC, id DESC);
CREATE INDEX orders_user_idx ON orders (user_id);

CREATE TABLE order_lines (
  order_id         text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          integer NOT NULL CHECK (line_no > 0),
  -- Snapshots taken when the order was placed; later catalog changes do not alter past orders.
  sku              text NOT NULL,
  name             text NOT NULL,
  unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
  quantity         integer NOT NULL CHECK (quantity > 0),
  line_total_minor bigint NOT NULL CHECK (line_total_minor = unit_price_minor * quantity),
  PRIMARY KEY (order_id, line_no)
);

CREATE TABLE mcp_api_key (
  key_id       text PRIMARY KEY CHECK (key_id ~ '^[a-z2-7]{12}$'),
  -- SHA-256 (hex) of the secret part of the key; the key itself is shown once and never stored.
  secret_hash  text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
  scopes       text[] NOT NULL DEFAULT '{}' CHECK (scopes <@ ARRAY['pos:read', 'pos:write']::text[]),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX mcp_api_key_user_idx ON mcp_api_key (user_id);
