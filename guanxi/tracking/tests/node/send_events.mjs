// Sends a few events with the official, unmodified @segment/analytics-node SDK to a Guanxi
// server: GUANXI_HOST (e.g. http://127.0.0.1:8000) and GUANXI_WRITE_KEY. Exits non-zero on any error.
import { Analytics } from '@segment/analytics-node'

const analytics = new Analytics({
  writeKey: process.env.GUANXI_WRITE_KEY,
  host: process.env.GUANXI_HOST,
  maxEventsInBatch: 5,
  flushInterval: 200,
  maxRetries: 1,
})
let failed = false
analytics.on('error', (err) => {
  failed = true
  console.error('segment error', err?.code ?? '', err?.reason ?? err)
})
const anonymousId = 'node-anon-1'
analytics.page({ anonymousId, name: 'Home', properties: { path: '/' } })
for (let n = 0; n < 6; n++) {
  analytics.track({ anonymousId, event: 'Product Viewed', properties: { sku: `SKU-${n}`, price: 12.5 } })
}
analytics.identify({ userId: 'node-user-1', anonymousId, traits: { email: 'node@example.com', firstName: 'Jun', lastName: 'Wu' } })
analytics.track({ userId: 'node-user-1', event: 'Order Completed', properties: { revenue: 42 } })
await analytics.closeAndFlush({ timeout: 20000 })
process.exit(failed ? 1 : 0)
