import { test, expect, snap, login, addToCart, fillAddress } from './fixtures'

test('register, sign in again with a guest cart that is merged, check out, see the order history', async ({ page }) => {
  const email = `e2e-${Date.now()}@example.com`
  const password = 'correct horse battery'
  page.on('dialog', (dialog) => dialog.accept())

  await page.goto('/app/register')
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByTestId('error')).toBeVisible() // field errors from the API, in words
  await page.getByLabel('Name').fill('Erin Endtoend')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password (8 characters or more)').fill(password)
  await snap(page, 'register')
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL((url) => !url.pathname.endsWith('/register'))
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible()
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible()

  // A guest cart, then sign in: the cart comes along.
  await addToCart(page, 'Iris Ceramic Mug')
  await expect(page.getByTestId('cart-count')).toHaveText('1')
  await page.goto('/app/login')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('wrong password')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByTestId('error')).toHaveText('That email and password do not match an account.')
  await snap(page, 'login')
  await login(page, email, password)
  await expect(page.getByTestId('cart-count')).toHaveText('1')
  await page.getByTestId('cart-link').click()
  await expect(page.getByTestId('cart-line')).toHaveCount(1)
  await expect(page.getByTestId('cart-line')).toContainText('Iris Ceramic Mug')

  // Signed-in checkout: the email comes from the account.
  await page.getByTestId('checkout').click()
  await expect(page.getByLabel('Email')).toHaveValue(email)
  await fillAddress(page)
  await page.getByTestId('place-order').click()
  await expect(page.getByTestId('order-status').first()).toHaveAttribute('data-status', 'CONFIRMED')
  const orderUrl = page.url()

  await page.getByRole('link', { name: 'My orders' }).click()
  await expect(page.getByTestId('order-row')).toHaveCount(1)
  await expect(page.getByTestId('order-row')).toContainText('Confirmed')
  await expect(page.getByTestId('order-row')).toContainText('€12.00')
  await snap(page, 'orders')

  // The timeline, then a cancel.
  await page.getByTestId('order-row').getByRole('link').click()
  expect(page.url()).toBe(orderUrl.replace('?placed=1', ''))
  await page.getByRole('button', { name: 'Cancel order' }).click()
  await expect(page.getByTestId('order-status').first()).toHaveAttribute('data-status', 'CANCELLED')
  await expect(page.getByTestId('timeline')).toContainText('Cancelled')

  await page.getByRole('link', { name: 'Erin Endtoend' }).click()
  await expect(page.getByTestId('profile-email')).toHaveText(email)
  await snap(page, 'profile')
})
