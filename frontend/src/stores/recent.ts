// Recently viewed products, kept in this browser (guests included), newest first.
import { defineStore } from 'pinia'
import type { Money } from '../lib/money'
import { storage } from '../lib/storage'

export interface RecentProduct {
  id: string
  name: string
  price: Money
  image?: string
}

const KEY = 'shop.recentlyViewed'
export const RECENT_LIMIT = 8

export const useRecentStore = defineStore('recent', {
  state: () => ({ items: storage.getJson<RecentProduct[]>(KEY, []) }),
  actions: {
    viewed(product: RecentProduct) {
      this.items = [product, ...this.items.filter((p) => p.id !== product.id)].slice(0, RECENT_LIMIT)
      storage.setJson(KEY, this.items)
    },
  },
})
