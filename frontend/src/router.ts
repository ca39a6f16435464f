import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from './stores/auth'

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('./views/HomeView.vue') },
  { path: '/products', name: 'products', component: () => import('./views/ProductsView.vue') },
  { path: '/products/:id', name: 'product', component: () => import('./views/ProductView.vue'), props: true },
  { path: '/cart', name: 'cart', component: () => import('./views/CartView.vue') },
  { path: '/checkout', name: 'checkout', component: () => import('./views/CheckoutView.vue') },
  { path: '/orders', name: 'orders', component: () => import('./views/OrdersView.vue'), meta: { auth: true } },
  { path: '/orders/:id', name: 'order', component: () => import('./views/OrderView.vue'), props: true },
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue') },
  { path: '/register', name: 'register', component: () => import('./views/RegisterView.vue') },
  { path: '/profile', name: 'profile', component: () => import('./views/ProfileView.vue'), meta: { auth: true } },
  {
    path: '/admin',
    component: () => import('./views/admin/AdminLayout.vue'),
    meta: { admin: true },
    children: [
      { path: '', redirect: { name: 'admin-products' } },
      { path: 'products', name: 'admin-products', component: () => import('./views/admin/AdminProducts.vue') },
      { path: 'products/new', name: 'admin-product-new', component: () => import('./views/admin/AdminProductEdit.vue') },
      { path: 'products/:id', name: 'admin-product-edit', component: () => import('./views/admin/AdminProductEdit.vue'), props: true },
      { path: 'categories', name: 'admin-categories', component: () => import('./views/admin/AdminCategories.vue') },
      { path: 'inventory', name: 'admin-inventory', component: () => import('./views/admin/AdminInventory.vue') },
      { path: 'orders', name: 'admin-orders', component: () => import('./views/admin/AdminOrders.vue') },
      { path: 'analytics', name: 'admin-analytics', component: () => import('./views/admin/AdminAnalytics.vue') },
    ],
  },
  { path: '/forbidden', name: 'forbidden', component: () => import('./views/ForbiddenView.vue') },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
]

export const router = createRouter({
  history: createWebHistory('/app/'),
  routes,
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

router.beforeEach((to) => {
  const auth = useAuthStore()
  const needsAdmin = to.matched.some((r) => r.meta.admin)
  const needsAuth = needsAdmin || to.matched.some((r) => r.meta.auth)
  if (needsAuth && !auth.isLoggedIn) return { name: 'login', query: { next: to.fullPath } }
  // The API refuses a customer anyway (403); the page does not even open.
  if (needsAdmin && !auth.isAdmin) return { name: 'forbidden' }
  return true
})

router.afterEach((to) => {
  const title = (to.meta.title as string | undefined) ?? undefined
  document.title = title ? `${title} · shop` : 'shop'
})
