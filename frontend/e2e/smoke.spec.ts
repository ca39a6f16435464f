import { test, expect } from './fixtures'

test('the gateway serves the SPA under /app/ and client routes survive a reload', async ({ page, request }) => {
  const redirect = await request.get('/app', { maxRedirects: 0 })
  expect(redirect.status()).toBe(308)
  const asset = await page.goto('/app/products/does-not-exist')
  expect(asset?.status()).toBe(200)
  await expect(page.getByRole('alert')).toContainText('No such product')
  await page.goto('/app/nowhere/at/all')
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible()
})
