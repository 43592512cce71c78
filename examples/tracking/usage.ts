// How an app calls the generated tracking code (shop.ts), and what the
// compiler now refuses: tests/schema_codegen.rs type-checks this file with
// `tsc --strict`, and each `@ts-expect-error` below must be an error, or
// the check fails.
import { Tributary } from 'tributary-web';
import { ShopTracking } from './shop';

export async function checkout(): Promise<boolean> {
  const sdk = await Tributary.init({ writeKey: 'shop-web-key', endpoint: 'https://events.shop.example' });
  const tracking = new ShopTracking(sdk);
  tracking.checkoutStarted({ cartId: 'c-1', items: [{ sku: 'A-1', quantity: 2 }], itemCount: 2 });
  tracking.checkoutStarted();
  // @ts-expect-error orderId and total are required
  tracking.orderCompleted({ currency: 'EUR' });
  // @ts-expect-error currency is one of EUR, USD, GBP
  tracking.orderCompleted({ orderId: 'o-1', total: 1, currency: 'JPY' });
  // @ts-expect-error total is a number
  tracking.orderCompleted({ orderId: 'o-1', total: '12.5' });
  // @ts-expect-error a line item needs its sku
  tracking.orderCompleted({ orderId: 'o-1', total: 1, items: [{ quantity: 1 }] });
  return tracking.orderCompleted({ orderId: 'o-1', total: 42.5, currency: 'EUR', items: [{ sku: 'A-1', quantity: 2 }] });
}
