import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { configureClient } from './api/client'
import { useAuthStore } from './stores/auth'
import { useCartStore } from './stores/cart'
import './styles.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)

const auth = useAuthStore(pinia)
const cart = useCartStore(pinia)
configureClient({
  accessToken: () => auth.access,
  refresh: () => auth.refresh(),
  // A signed-in user's cart is theirs; the guest token only rides along until it is merged.
  cartToken: () => cart.token,
  cartTokenIssued: (token) => {
    if (!auth.isLoggedIn) cart.setToken(token)
  },
})

app.use(router)
app.mount('#app')
void cart.load().catch(() => {})
