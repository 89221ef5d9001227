import type { Db } from './db.js';

/**
 * Demo data for local runs and tests: demo-user owns Corner Coffee and Daily Bread Bakery, demo-user-2 owns
 * Page Turner Books only. Each business has one product out of stock and one with only 3 left.
 */
export const DEMO = {
  users: {
    demo: 'demo-user',
    demo2: 'demo-user-2',
  },
  businesses: {
    coffee: 'biz_corner_coffee',
    bakery: 'biz_daily_bread',
    books: 'biz_page_turner',
  },
  /** Per business: a product with stock 0 and one with LOW_STOCK left (as seeded; tests may consume them). */
  products: {
    coffee: { outOfStock: 'COF-COLDBREW-16', lowStock: 'COF-BEANS-ESP-1KG' },
    bakery: { outOfStock: 'BAK-STOLLEN', lowStock: 'BAK-SOURDOUGH-LG' },
    books: { outOfStock: 'BK-ATLAS-WORLD', lowStock: 'BK-SIGNED-FIRST-ED' },
  },
  lowStock: 3,
} as const;

export interface SeedUser {
  id: string;
  email: string;
  displayName: string;
}

export interface SeedBusiness {
  id: string;
  name: string;
  currency: string;
  owner: string;
  products: SeedProduct[];
}

export interface SeedProduct {
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  stock: number;
}

export const DEMO_USERS: readonly SeedUser[] = [
  { id: DEMO.users.demo, email: 'demo@example.com', displayName: 'Demo User' },
  { id: DEMO.users.demo2, email: 'demo2@example.com', displayName: 'Demo User Two' },
];

export const DEMO_BUSINESSES: readonly SeedBusiness[] = [
  {
    id: DEMO.businesses.coffee,
    name: 'Corner Coffee',
    currency: 'USD',
    owner: DEMO.users.demo,
    products: [
      { sku: 'COF-LATTE-12', name: 'Caffè Latte 12 oz', description: 'Double espresso with steamed whole milk.', priceMinor: 450, stock: 120 },
      { sku: 'COF-LATTE-16', name: 'Caffè Latte 16 oz', description: 'Double espresso with steamed whole milk, large.', priceMinor: 525, stock: 100 },
      { sku: 'COF-ESPRESSO-DBL', name: 'Double Espresso', description: 'Two shots of our house blend.', priceMinor: 300, stock: 200 },
      { sku: 'COF-AMERICANO-12', name: 'Americano 12 oz', description: 'Espresso topped with hot water.', priceMinor: 350, stock: 150 },
      { sku: 'COF-CAPPUCCINO-8', name: 'Cappuccino 8 oz', description: 'Espresso, steamed milk and a thick layer of foam.', priceMinor: 425, stock: 90 },
      { sku: 'COF-FLATWHITE-8', name: 'Flat White 8 oz', description: 'Ristretto shots with velvety microfoam.', priceMinor: 440, stock: 80 },
      { sku: 'COF-MOCHA-12', name: 'Mocha 12 oz', description: 'Espresso, dark chocolate and steamed milk.', priceMinor: 495, stock: 60 },
      { sku: 'COF-CHAI-12', name: 'Chai Latte 12 oz', description: 'Spiced black tea with steamed milk.', priceMinor: 460, stock: 70 },
      { sku: 'COF-COLDBREW-16', name: 'Cold Brew 16 oz', description: 'Steeped for 18 hours; served over ice.', priceMinor: 475, stock: 0 },
      { sku: 'COF-CROISSANT', name: 'Butter Croissant', description: 'Baked fresh every morning.', priceMinor: 325, stock: 40 },
      { sku: 'COF-MUFFIN-BLUE', name: 'Blueberry Muffin', description: 'With a crumble top.', priceMinor: 350, stock: 35 },
      { sku: 'COF-BEANS-ESP-1KG', name: 'House Espresso Beans 1 kg', description: 'Whole beans, medium-dark roast.', priceMinor: 2800, stock: DEMO.lowStock },
    ],
  },
  {
    id: DEMO.businesses.bakery,
    name: 'Daily Bread Bakery',
    currency: 'EUR',
    owner: DEMO.users.demo,
    products: [
      { sku: 'BAK-BAGUETTE', name: 'Baguette Tradition', description: 'Long-fermented French baguette.', priceMinor: 130, stock: 150 },
      { sku: 'BAK-SOURDOUGH-LG', name: 'Sourdough Loaf, large', description: 'Country sourdough, 1 kg.', priceMinor: 650, stock: DEMO.lowStock },
      { sku: 'BAK-RYE-LOAF', name: 'Dark Rye Loaf', description: '100% rye with sunflower seeds.', priceMinor: 520, stock: 25 },
      { sku: 'BAK-CROISSANT', name: 'Croissant au beurre', description: 'All-butter croissant.', priceMinor: 160, stock: 120 },
      { sku: 'BAK-PAIN-CHOC', name: 'Pain au chocolat', description: 'Laminated dough with two chocolate batons.', priceMinor: 180, stock: 100 },
      { sku: 'BAK-BRIOCHE', name: 'Brioche Nanterre', description: 'Rich, buttery brioche loaf.', priceMinor: 590, stock: 20 },
      { sku: 'BAK-ECLAIR-CHOC', name: 'Éclair au chocolat', description: 'Choux pastry, chocolate crème pâtissière.', priceMinor: 350, stock: 30 },
      { sku: 'BAK-CINNAMON-ROLL', name: 'Cinnamon Roll', description: 'Swirled with cinnamon sugar, cream-cheese glaze.', priceMinor: 290, stock: 45 },
      { sku: 'BAK-PRETZEL', name: 'Laugenbrezel', description: 'Bavarian lye pretzel with coarse salt.', priceMinor: 140, stock: 60 },
      { sku: 'BAK-APPLE-TART', name: 'Apple Tart', description: 'Thin apple slices on puff pastry.', priceMinor: 420, stock: 15 },
      { sku: 'BAK-STOLLEN', name: 'Christstollen', description: 'Seasonal fruit bread with marzipan.', priceMinor: 1290, stock: 0 },
    ],
  },
  {
    id: DEMO.businesses.books,
    name: 'Page Turner Books',
    currency: 'GBP',
    owner: DEMO.users.demo2,
    products: [
      { sku: 'BK-PRIDE-PREJ-PB', name: 'Pride and Prejudice (paperback)', description: 'Jane Austen. Penguin Classics edition.', priceMinor: 899, stock: 40 },
      { sku: 'BK-DUNE-HB', name: 'Dune (hardback)', description: 'Frank Herbert. 60th anniversary edition.', priceMinor: 2500, stock: 12 },
      { sku: 'BK-SAPIENS-PB', name: 'Sapiens (paperback)', description: 'Yuval Noah Harari. A brief history of humankind.', priceMinor: 1099, stock: 30 },
      { sku: 'BK-HOBBIT-PB', name: 'The Hobbit (paperback)', description: 'J. R. R. Tolkien.', priceMinor: 999, stock: 25 },
      { sku: 'BK-COOKBOOK-ITAL', name: 'Italian Home Cooking', description: 'Recipes for every day of the week.', priceMinor: 2200, stock: 8 },
      { sku: 'BK-KIDS-GRUFFALO', name: 'The Gruffalo', description: 'Julia Donaldson. Picture book.', priceMinor: 799, stock: 50 },
      { sku: 'BK-ATLAS-WORLD', name: 'World Atlas', description: 'Large-format reference atlas.', priceMinor: 3500, stock: 0 },
      { sku: 'BK-POETRY-ANTH', name: 'Poetry Anthology', description: 'Two centuries of British poetry.', priceMinor: 1450, stock: 10 },
      { sku: 'BK-NOTEBOOK-A5', name: 'A5 Notebook, dotted', description: 'Lay-flat binding, 120 gsm paper.', priceMinor: 650, stock: 75 },
      { sku: 'BK-GIFTCARD-20', name: 'Gift Card £20', description: 'Redeemable in store.', priceMinor: 2000, stock: 200 },
      { sku: 'BK-SIGNED-FIRST-ED', name: 'Signed First Edition', description: 'A signed first edition from a local author.', priceMinor: 4500, stock: DEMO.lowStock },
    ],
  },
];

/**
 * Loads the demo data. Idempotent and safe to run from several processes at once: every row is inserted
 * only if missing (ON CONFLICT DO NOTHING), so existing rows — stock in particular — are never reset.
 */
export async function seedDemo(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO users (id, email, display_name)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (id) DO NOTHING`,
      [DEMO_USERS.map((u) => u.id), DEMO_USERS.map((u) => u.email), DEMO_USERS.map((u) => u.displayName)],
    );
    await tx.query(
      `INSERT INTO businesses (id, name, currency)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (id) DO NOTHING`,
      [DEMO_BUSINESSES.map((b) => b.id), DEMO_BUSINESSES.map((b) => b.name), DEMO_BUSINESSES.map((b) => b.currency)],
    );
    await tx.query(
      `INSERT INTO memberships (user_id, business_id, role)
       SELECT user_id, business_id, 'owner' FROM unnest($1::text[], $2::text[]) AS t(user_id, business_id)
       ON CONFLICT (user_id, business_id) DO NOTHING`,
      [DEMO_BUSINESSES.map((b) => b.owner), DEMO_BUSINESSES.map((b) => b.id)],
    );
    const products = DEMO_BUSINESSES.flatMap((b) => b.products.map((p) => ({ ...p, businessId: b.id, currency: b.currency })));
    await tx.query(
      `INSERT INTO products (business_id, sku, name, description, price_minor, currency, stock)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[])
       ON CONFLICT (business_id, sku) DO NOTHING`,
      [
        products.map((p) => p.businessId),
        products.map((p) => p.sku),
        products.map((p) => p.name),
        products.map((p) => p.description),
        products.map((p) => p.priceMinor),
        products.map((p) => p.currency),
        products.map((p) => p.stock),
      ],
    );
  });
}
