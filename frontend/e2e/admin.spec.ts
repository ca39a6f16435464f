import { test, expect, stack, snap, login } from './fixtures'

test('an admin creates a product and it can be found in the storefront search', async ({ page }) => {
  await login(page, stack.admin.email, stack.admin.password)
  await page.getByTestId('admin-link').click()
  await expect(page.getByRole('heading', { name: 'Admin' })).toBeVisible()
  await snap(page, 'admin-products')

  await page.getByTestId('new-product').click()
  await page.getByTestId('save-product').click()
  await expect(page.getByTestId('error')).toBeVisible()
  await page.getByLabel('Price').fill('24.50')
  await page.getByTestId('save-product').click()
  // Field errors from the catalogue's problem+json, beside their inputs.
  await expect(page.locator('#f-sku-error')).toBeVisible()
  await expect(page.locator('#f-name-error')).toBeVisible()
  await snap(page, 'admin-product-errors')

  await page.getByLabel('SKU').fill('E2E-ZEPHYR')
  await page.getByLabel('Name').fill('Zephyr Storm Lantern')
  await page.getByLabel('Category').selectOption('lighting')
  await page.getByLabel('Initial stock').fill('15')
  await page.getByLabel('Description').fill('A lantern for windy evenings.')
  await page.getByTestId('save-product').click()
  await expect(page.getByRole('status')).toHaveText('Product created.')
  await expect(page.getByRole('heading', { name: 'Edit product' })).toBeVisible()

  await page.goto('/app/products')
  await page.getByLabel('Search').fill('zephyr')
  await expect(page.getByTestId('product-card')).toHaveCount(1)
  await expect(page.getByTestId('product-card')).toContainText('Zephyr Storm Lantern')
  await expect(page.getByTestId('product-card')).toContainText('€24.50')
})

test('an admin lowers the stock of a product and it shows in the low-stock list', async ({ page }) => {
  await login(page, stack.admin.email, stack.admin.password)
  await page.goto('/app/admin/inventory')
  const lowStock = page.getByTestId('low-stock')
  await expect(lowStock).toContainText('Dusk Reading Light') // 3 left, threshold 5, from the start
  await expect(lowStock).not.toContainText('Rowan Watering Can')

  await page.getByTestId('inventory-search').fill('Rowan')
  await page.getByRole('button', { name: 'Find' }).click()
  await page.getByTestId('inventory-results').getByRole('button', { name: 'Rowan Watering Can' }).click()
  await expect(page.getByTestId('stock-form')).toContainText('on hand 41')
  await page.getByLabel('Change').selectOption('set')
  await page.getByLabel('Quantity').fill('2')
  await page.getByLabel('Reason').fill('damaged in the warehouse')
  await page.getByTestId('update-stock').click()
  await expect(page.getByRole('status')).toContainText('2 on hand')
  await expect(lowStock).toContainText('Rowan Watering Can')
  await snap(page, 'admin-inventory')
})

test('an admin filters orders and ships a confirmed one; the dashboard shows charts', async ({ page, request }) => {
  page.on('dialog', (dialog) => dialog.accept())
  // A guest order through the API, so this test does not depend on the others.
  const product = stack.products.find((p) => p.name === 'Vale Bird Feeder')!
  const add = await request.post('/cart/items', { data: { product_id: product.id, quantity: 2 } })
  expect(add.status()).toBe(200)
  const cartToken = add.headers()['x-cart-token']
  const placed = await request.post('/orders', {
    headers: { 'x-cart-token': cartToken, 'idempotency-key': `e2e-admin-${Date.now()}` },
    data: { email: 'bird@example.com', shipping_address: { name: 'Bird Fan', line1: '2 Nest Lane', city: 'Leeds', postal_code: 'LS1 1AA', country: 'GB' } },
  })
  expect(placed.status()).toBe(201)
  const order = await placed.json()
  await expect
    .poll(async () => (await (await request.get(`/orders/${order.id}`, { headers: { 'x-order-token': order.order_token } })).json()).status)
    .toBe('CONFIRMED')

  await login(page, stack.admin.email, stack.admin.password)
  await page.goto('/app/admin/orders')
  await page.getByLabel('Status').selectOption('CONFIRMED')
  await expect(page).toHaveURL(/status=CONFIRMED/)
  // By the link to the order itself: ids are UUID v7, so orders placed in the same minute share
  // the 8 leading characters the table shows.
  const orderLink = `a[href$="/orders/${order.id}"]`
  const row = page.getByTestId('admin-orders').getByRole('row').filter({ has: page.locator(orderLink) })
  await expect(row).toContainText('Confirmed')
  await snap(page, 'admin-orders')
  await row.getByRole('button', { name: 'Ship' }).click()
  await expect(page.getByRole('status')).toContainText('shipped')
  await page.getByLabel('Status').selectOption('SHIPPED')
  await expect(page.getByTestId('admin-orders').locator(orderLink)).toHaveCount(1)

  await page.getByRole('link', { name: 'Analytics' }).click()
  await expect(page.getByRole('heading', { name: 'Top-selling products' })).toBeVisible()
  await expect(page.getByTestId('analytics-totals')).toContainText('Registrations')
  await snap(page, 'admin-analytics')
})

test('a customer cannot open the admin pages, and the API refuses them too', async ({ page }) => {
  await login(page, stack.customer.email, stack.customer.password)
  await expect(page.getByTestId('admin-link')).toHaveCount(0)
  for (const path of ['/app/admin', '/app/admin/inventory', '/app/admin/analytics']) {
    await page.goto(path)
    await expect(page.getByTestId('forbidden')).toBeVisible()
    await expect(page.getByRole('heading', { name: 'Admin' })).toHaveCount(0)
  }
  const status = await page.evaluate(async () => {
    const session = JSON.parse(localStorage.getItem('shop.session') ?? '{}')
    const response = await fetch('/inventory/low-stock', { headers: { authorization: `Bearer ${session.access}` } })
    return response.status
  })
  expect(status).toBe(403)

  // Signed out, an admin page asks for a sign-in first.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible()
  await page.goto('/app/admin/products')
  await expect(page).toHaveURL(/\/app\/login\?next=/)
})
