/** The tools that change a cart or place an order: the ones RATE_LIMIT_WRITES_PER_MINUTE counts. */
export const WRITE_TOOLS: readonly string[] = ['add_item_to_cart', 'update_cart_item', 'remove_item_from_cart', 'clear_cart', 'checkout'];
