/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The API paths the SPA calls on its own origin. In production the gateway (make run) or nginx
// (compose) serves both; `npm run dev` proxies them to a local gateway.
const API = process.env.SHOP_API ?? 'http://127.0.0.1:5001'
const apiPaths = ['/auth', '/products', '/categories', '/cart', '/orders', '/inventory', '/analytics', '/payments', '/health']

export default defineConfig({
  // The gateway serves the build under /app/ (gateway/src/frontend.rs); nginx does the same.
  base: '/app/',
  plugins: [vue()],
  server: {
    port: 5173,
    proxy: Object.fromEntries(apiPaths.map((path) => [path, { target: API, changeOrigin: false }])),
  },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
  test: {
    environment: 'jsdom',
    include: ['tests/unit/**/*.spec.ts'],
  },
})
