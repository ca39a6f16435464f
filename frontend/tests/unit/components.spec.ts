import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { configureClient } from '../../src/api/client'
import AppHeader from '../../src/components/AppHeader.vue'
import StockBadge from '../../src/components/StockBadge.vue'
import OrderStatus from '../../src/components/OrderStatus.vue'
import CartView from '../../src/views/CartView.vue'
import CheckoutView from '../../src/views/CheckoutView.vue'
import { useCartStore } from '../../src/stores/cart'
import { useAuthStore } from '../../src/stores/auth'
import { buildTree } from '../../src/lib/categories'
import { routes } from '../../src/router'
import { cartWith, fakeFetch, problem } from './helpers'

function setup() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({ history: createMemoryHistory(), routes })
  const cart = useCartStore()
  const auth = useAuthStore()
  configureClient({ accessToken: () => auth.access, refresh: async () => false, cartToken: () => cart.token, cartTokenIssued: (t) => cart.setToken(t) })
  return { plugins: [pinia, router], cart, auth, router }
}

describe('components', () => {
  beforeEach(() => {
    localStorage.clear()
    vi.unstubAllGlobals()
  })

  it('the header badge follows the cart at once', async () => {
    const { plugins, cart } = setup()
    const wrapper = mount(AppHeader, { global: { plugins } })
    expect(wrapper.get('[data-test=cart-count]').text()).toBe('0')
    fakeFetch(() => ({ body: cartWith([{ id: 'a', qty: 3, price: 100 }]) }))
    await cart.add('p-a', 3)
    await wrapper.vm.$nextTick()
    expect(wrapper.get('[data-test=cart-count]').text()).toBe('3')
    expect(wrapper.find('[data-test=admin-link]').exists()).toBe(false)
  })

  it('the admin link shows only for admins', async () => {
    const { plugins, auth } = setup()
    auth.accept({ access_token: 'a', refresh_token: 'r', token_type: 'Bearer', expires_in: 1, refresh_expires_in: 1, user: { id: 'u', email: 'x@y.z', name: 'Root', roles: ['admin'], created_at: '' } })
    const wrapper = mount(AppHeader, { global: { plugins } })
    expect(wrapper.find('[data-test=admin-link]').exists()).toBe(true)
  })

  it('the cart page changes quantities and shows totals and errors in words', async () => {
    const { plugins } = setup()
    let qty = 1
    fakeFetch((call) => {
      if (call.method === 'PUT') {
        if ((call.body as { quantity: number }).quantity > 50) return problem(422, 'product_unavailable', 'inactive')
        qty = (call.body as { quantity: number }).quantity
      }
      return { body: cartWith([{ id: 'a', qty, price: 1250 }]) }
    })
    const wrapper = mount(CartView, { global: { plugins } })
    await flushPromises()
    expect(wrapper.get('[data-test=cart-subtotal]').text()).toContain('12.50')
    const input = wrapper.get('input[type=number]')
    await input.setValue('4')
    await input.trigger('change')
    await flushPromises()
    expect(wrapper.get('[data-test=cart-items]').text()).toBe('4')
    expect(wrapper.get('[data-test=cart-subtotal]').text()).toContain('50.00')
    await input.setValue('60')
    await input.trigger('change')
    await flushPromises()
    expect(wrapper.get('[data-test=error]').text()).toBe('This product is not for sale right now.')
  })

  it('checkout sends an Idempotency-Key and the cart token, and shows field errors', async () => {
    const { plugins, cart } = setup()
    cart.setToken('guest-tok')
    const calls = fakeFetch((call) => {
      if (call.method === 'POST') return problem(400, 'validation_failed', 'invalid', [{ field: 'shipping_address.postal_code', message: 'is required' }])
      return { body: cartWith([{ id: 'a', qty: 1, price: 500 }]) }
    })
    const wrapper = mount(CheckoutView, { global: { plugins } })
    await flushPromises()
    await wrapper.get('#email').setValue('ada@example.com')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    const post = calls.find((c) => c.method === 'POST')!
    expect(post.url).toBe('/orders')
    expect(post.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(post.headers['x-cart-token']).toBe('guest-tok')
    expect(post.body).toMatchObject({ email: 'ada@example.com', shipping_address: { country: 'GB' } })
    expect(wrapper.get('#ship-postal_code-error').text()).toBe('is required')
    expect(wrapper.get('[data-test=error]').text()).toBe('Please correct the highlighted fields.')
  })

  it('stock and status badges say it in words', () => {
    expect(mount(StockBadge, { props: { available: 0 } }).text()).toBe('Out of stock')
    expect(mount(StockBadge, { props: { available: 3, threshold: 5 } }).text()).toBe('Only 3 left')
    expect(mount(StockBadge, { props: { available: 30, threshold: 5 } }).text()).toBe('In stock')
    expect(mount(OrderStatus, { props: { status: 'AWAITING_PAYMENT' } }).text()).toBe('Awaiting payment')
  })

  it('categories become a tree', () => {
    const c = (slug: string, parent: string | null) => ({ slug, name: slug.toUpperCase(), parent, created_at: '', updated_at: '' })
    const tree = buildTree([c('lamps', 'home'), c('home', null), c('garden', null), c('desk', 'lamps')])
    expect(tree.map((n) => n.slug)).toEqual(['garden', 'home'])
    expect(tree[1].children[0].slug).toBe('lamps')
    expect(tree[1].children[0].children[0].slug).toBe('desk')
  })
})

describe('route guard', () => {
  beforeEach(() => localStorage.clear())

  const session = (roles: string[]) => ({
    access_token: 'a', refresh_token: 'r', token_type: 'Bearer', expires_in: 1, refresh_expires_in: 1,
    user: { id: 'u', email: 'x@y.z', name: 'X', roles, created_at: '' },
  })

  it('sends guests to sign-in, keeps customers out of admin, lets admins in', async () => {
    const { router: appRouter } = await import('../../src/router')
    const { auth } = setup()
    await appRouter.push('/admin/inventory')
    expect(appRouter.currentRoute.value.name).toBe('login')
    expect(appRouter.currentRoute.value.query.next).toBe('/admin/inventory')

    auth.accept(session(['customer']))
    await appRouter.push('/admin/inventory')
    expect(appRouter.currentRoute.value.name).toBe('forbidden')
    await appRouter.push('/orders')
    expect(appRouter.currentRoute.value.name).toBe('orders')

    auth.accept(session(['admin']))
    await appRouter.push('/admin/inventory')
    expect(appRouter.currentRoute.value.name).toBe('admin-inventory')
  })
})
