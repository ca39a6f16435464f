import { test as base, expect, type Page } from '@playwright/test'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface StackInfo {
  gateway_url: string
  app_url: string
  admin: { email: string; password: string }
  customer: { email: string; password: string; name: string }
  products: { id: string; name: string; category: string; price_minor: number; stock: number }[]
}

export const stack: StackInfo = JSON.parse(process.env.E2E_STACK ?? '{}')
const screenshots = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots')

/** Every test fails on a console error or an uncaught exception in the page. */
export const test = base.extend<{ consoleErrors: string[] }>({
  baseURL: async ({}, use) => use(stack.gateway_url),
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = []
      page.on('console', (message) => {
        // A failed request the test provokes on purpose (401, 403, 404...) logs a resource error.
        if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) errors.push(message.text())
      })
      page.on('pageerror', (error) => errors.push(String(error)))
      await use(errors)
      expect(errors, 'console errors').toEqual([])
    },
    { auto: true },
  ],
})
export { expect }

/** Full-page screenshots at a phone (390 px) and a desktop (1280 px) width; at 360 px (the
 * smallest phone the UI is made for) and 390 px, nothing may stick out sideways. */
export async function snap(page: Page, name: string) {
  mkdirSync(screenshots, { recursive: true })
  const size = page.viewportSize() ?? { width: 1280, height: 800 }
  await page.mouse.move(0, 0) // no hover state in the pictures
  for (const width of [360, 390, 1280]) {
    await page.setViewportSize({ width, height: 800 })
    // Two frames: the layout for the new width is painted before the shot.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
    if (width < 1000) {
      const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth)
      expect(scrollWidth, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(width)
    }
    if (width !== 360) await page.screenshot({ path: path.join(screenshots, `${name}-${width}.png`), fullPage: true })
  }
  await page.setViewportSize(size)
}

export async function login(page: Page, email: string, password: string) {
  await page.goto('/app/login')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  // Signed in, the guest cart merged, and the page moved on (a click before that would be undone).
  await page.waitForURL((url) => !url.pathname.endsWith('/login'))
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible()
}

export async function addToCart(page: Page, productName: string) {
  await page.goto('/app/products')
  await page.getByLabel('Search').fill(productName.split(' ')[0])
  await page.getByRole('link', { name: productName }).click()
  await expect(page.getByTestId('product-name')).toHaveText(productName)
  await page.getByTestId('add-to-cart').click()
  await expect(page.getByRole('status')).toContainText('added to your cart')
}

export async function fillAddress(page: Page, email?: string) {
  if (email) await page.getByLabel('Email').fill(email)
  await page.getByLabel('Full name').fill('Ada Lovelace')
  await page.getByLabel('Address', { exact: true }).fill('1 Main Street')
  await page.getByLabel('City').fill('London')
  await page.getByLabel('Postal code').fill('N1 7AA')
  await page.getByLabel('Country code (e.g. GB)').fill('GB')
}
