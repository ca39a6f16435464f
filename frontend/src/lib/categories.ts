import type { Category } from '../api/types'

export interface CategoryNode {
  slug: string
  name: string
  children: CategoryNode[]
}

/** `GET /categories` is flat with `parent` links; this builds the tree, children sorted by name. */
export function buildTree(categories: Category[]): CategoryNode[] {
  const nodes = new Map<string, CategoryNode>()
  for (const c of categories) nodes.set(c.slug, { slug: c.slug, name: c.name, children: [] })
  const roots: CategoryNode[] = []
  for (const c of categories) {
    const node = nodes.get(c.slug)!
    const parent = c.parent ? nodes.get(c.parent) : undefined
    if (parent && parent !== node) parent.children.push(node)
    else roots.push(node)
  }
  const sort = (list: CategoryNode[]) => {
    list.sort((a, b) => a.name.localeCompare(b.name))
    list.forEach((n) => sort(n.children))
  }
  sort(roots)
  return roots
}
