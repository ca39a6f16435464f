import { test, expect, stack, snap, fillAddress } from './fixtures'

test('a guest browses, searches, adds to the cart and checks out; the order is confirmed', async ({ page }) => {
  const product = stack.products.find((p) => p.name === 'Kestrel Chef Knife')!

  await page.goto('/app/')
  await expect(page.getByRole('heading', { name: 'Hot right now' })).toBeVisible()
  await expect(page.getByTestId('product-card').first()).toBeVisible()
  await snap(page, 'home')

  // Browse a category from the tree, then search as you type.
  await page.getByRole('link', { name: 'Products' }).click()
  await page.getByRole('button', { name: 'Kitchen' }).click()
  await expect(page.getByRole('heading', { name: 'Kitchen' })).toBeVisible()
  await expect(page.getByText(/^8 products$/)).toBeVisible() // kitchen + its cookware sub-category
  await page.getByLabel('Search').fill('kestrel')
  await expect(page).toHaveURL(/q=kestrel/)
  await expect(page.getByTestId('product-card')).toHaveCount(1)
  await snap(page, 'products')

  await page.getByRole('link', { name: product.name }).click()
  await expect(page.getByTestId('product-name')).toHaveText(product.name)
  await expect(page.getByText('€79.00')).toBeVisible()
  await expect(page.getByTestId('stock')).toHaveText('In stock')
  await page.getByLabel('Quantity').fill('2')
  await page.getByTestId('add-to-cart').click()
  await expect(page.getByRole('status')).toContainText('2 × Kestrel Chef Knife added')
  await expect(page.getByTestId('cart-count')).toHaveText('2')
  await snap(page, 'product')

  // The cart: quantity changes update the badge and the totals at once.
  await page.getByTestId('cart-link').click()
  await expect(page.getByTestId('cart-subtotal')).toHaveText('€158.00')
  await page.getByLabel(`Quantity of ${product.name}`).fill('3')
  await page.getByLabel(`Quantity of ${product.name}`).press('Enter')
  await page.getByLabel(`Quantity of ${product.name}`).blur()
  await expect(page.getByTestId('cart-subtotal')).toHaveText('€237.00')
  await expect(page.getByTestId('cart-count')).toHaveText('3')
  await snap(page, 'cart')

  await page.getByTestId('checkout').click()
  await expect(page.getByRole('heading', { name: 'Checkout' })).toBeVisible()
  // Missing fields come back as problem+json field errors, shown beside the inputs.
  await page.getByTestId('place-order').click()
  await expect(page.getByTestId('error')).toHaveText('Please correct the highlighted fields.')
  await fillAddress(page, 'guest@example.com')
  await snap(page, 'checkout')
  await page.getByTestId('place-order').click()

  await expect(page).toHaveURL(/\/app\/orders\/[0-9a-f-]{36}\?placed=1/)
  await expect(page.getByTestId('order-status').first()).toHaveAttribute('data-status', 'CONFIRMED')
  await expect(page.getByTestId('timeline')).toContainText('Pending')
  await expect(page.getByTestId('timeline')).toContainText('Confirmed')
  // Confirmation empties the cart: the badge follows.
  await expect(page.getByTestId('cart-count')).toHaveText('0')
  await snap(page, 'order')

  // A reload keeps following the order with its guest token; deep links survive a reload.
  await page.reload()
  await expect(page.getByTestId('order-status').first()).toHaveAttribute('data-status', 'CONFIRMED')
})
