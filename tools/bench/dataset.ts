import type { Client } from '../../src/postgres/client.js';

/**
 * A synthetic shop database for the benchmark: five tables with primary keys, unique and secondary
 * indexes and foreign keys, text, numeric, timestamptz and jsonb columns. Row counts scale with the
 * requested size; at scale 1 the database takes about 1 GB on disk (tables plus indexes).
 */
export interface DatasetShape {
  readonly customers: number;
  readonly products: number;
  readonly orders: number;
  readonly orderItems: number;
  readonly events: number;
}

/** Rows per table for a target size in MB (calibrated on PostgreSQL 15: ~1 GB at 1000 MB). */
export function datasetShape(sizeMb: number): DatasetShape {
  const scale = Math.max(sizeMb, 1) / 1000;
  const rows = (n: number) => Math.max(10, Math.round(n * scale));
  return {
    customers: rows(500_000),
    products: rows(50_000),
    orders: rows(1_500_000),
    orderItems: rows(1_500_000) * 3,
    events: rows(1_200_000),
  };
}

/** The statements that build the dataset, in order; data first, then indexes and foreign keys (faster). */
export function datasetSql(shape: DatasetShape): string[] {
  return [
    `CREATE TABLE customers (
       id bigint PRIMARY KEY,
       email text NOT NULL,
       full_name text NOT NULL,
       country char(2) NOT NULL,
       created_at timestamptz NOT NULL
     )`,
    `CREATE TABLE products (
       id bigint PRIMARY KEY,
       sku text NOT NULL,
       title text NOT NULL,
       price numeric(10,2) NOT NULL,
       description text NOT NULL
     )`,
    `CREATE TABLE orders (
       id bigint PRIMARY KEY,
       customer_id bigint NOT NULL,
       status text NOT NULL,
       ordered_at timestamptz NOT NULL,
       total numeric(12,2) NOT NULL
     )`,
    `CREATE TABLE order_items (
       order_id bigint NOT NULL,
       line int NOT NULL,
       product_id bigint NOT NULL,
       quantity int NOT NULL,
       unit_price numeric(10,2) NOT NULL,
       PRIMARY KEY (order_id, line)
     )`,
    `CREATE TABLE events (
       id bigint PRIMARY KEY,
       customer_id bigint NOT NULL,
       kind text NOT NULL,
       happened_at timestamptz NOT NULL,
       payload jsonb NOT NULL
     )`,
    `INSERT INTO customers
       SELECT g, 'user' || g || '@example.com', 'Customer ' || md5(g::text),
              (ARRAY['DE','FR','US','JP','BR','IN'])[1 + g % 6], timestamptz '2020-01-01' + g * interval '1 minute'
         FROM generate_series(1::bigint, ${shape.customers}) g`,
    `INSERT INTO products
       SELECT g, 'SKU-' || lpad(g::text, 8, '0'), 'Product ' || g, (g % 9973) / 10.0 + 1,
              repeat(md5(g::text), 4)
         FROM generate_series(1::bigint, ${shape.products}) g`,
    `INSERT INTO orders
       SELECT g, 1 + (g * 7919) % ${shape.customers}, (ARRAY['new','paid','shipped','returned'])[1 + g % 4],
              timestamptz '2021-01-01' + g * interval '20 seconds', (g % 50000) / 100.0
         FROM generate_series(1::bigint, ${shape.orders}) g`,
    `INSERT INTO order_items
       SELECT 1 + (g - 1) / 3, 1 + (g - 1) % 3, 1 + (g * 104729) % ${shape.products}, 1 + g % 5, (g % 9973) / 10.0 + 1
         FROM generate_series(1::bigint, ${shape.orderItems}) g`,
    `INSERT INTO events
       SELECT g, 1 + (g * 31) % ${shape.customers}, (ARRAY['view','cart','checkout','login'])[1 + g % 4],
              timestamptz '2022-01-01' + g * interval '5 seconds',
              jsonb_build_object('session', md5(g::text), 'page', '/p/' || (g % 1000), 'n', g)
         FROM generate_series(1::bigint, ${shape.events}) g`,
    'CREATE UNIQUE INDEX customers_email_key ON customers (email)',
    'CREATE INDEX customers_country_idx ON customers (country, created_at)',
    'CREATE UNIQUE INDEX products_sku_key ON products (sku)',
    'CREATE INDEX orders_customer_idx ON orders (customer_id)',
    'CREATE INDEX orders_ordered_at_idx ON orders (ordered_at)',
    'CREATE INDEX order_items_product_idx ON order_items (product_id)',
    'CREATE INDEX events_customer_idx ON events (customer_id, happened_at)',
    'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)',
    'ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id)',
    'ALTER TABLE order_items ADD CONSTRAINT order_items_product_fk FOREIGN KEY (product_id) REFERENCES products (id)',
    'ALTER TABLE events ADD CONSTRAINT events_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)',
    'VACUUM ANALYZE',
  ];
}

/** Builds the dataset in the connected database and returns its size in bytes. */
export async function buildDataset(client: Client, sizeMb: number, log: (line: string) => void): Promise<number> {
  const shape = datasetShape(sizeMb);
  const statements = datasetSql(shape);
  for (const [i, sql] of statements.entries()) {
    const label = sql.trim().split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 60);
    log(`  [${i + 1}/${statements.length}] ${label}`);
    await client.query(sql);
  }
  const { rows } = await client.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
  return Number(rows[0]!.size);
}

/**
 * A checksum of every row of every table, to prove that a copy is exact: per table the row count and
 * the sum of a 64-bit hash of each row's text, which does not depend on the rows' physical order.
 */
export async function datasetChecksum(client: Client): Promise<string> {
  const tables = ['customers', 'products', 'orders', 'order_items', 'events'];
  const parts: string[] = [];
  for (const table of tables) {
    const { rows } = await client.query<{ n: string; h: string }>(
      `SELECT count(*)::text AS n, coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text AS h FROM ${table} t`,
    );
    parts.push(`${table}:${rows[0]!.n}:${rows[0]!.h}`);
  }
  return parts.join(' ');
}
