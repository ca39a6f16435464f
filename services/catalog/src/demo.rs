//! The demo catalogue: a deterministic, realistic set of categories (three levels deep) and
//! products, loaded once and idempotently (fixed slugs and SKUs, `ON CONFLICT DO NOTHING`).
//!
//! New products get a `product.created` event through the outbox like any other create, so the
//! inventory service builds their stock rows from `initial_stock` when the relay publishes them.

use crate::db;
use crate::domain::category::ValidCategory;
use crate::domain::{Money, ProductId, ValidProduct};
use crate::events;
use anyhow::Context;
use diesel_async::AsyncConnection;
use shop_common::db::DbPool;

/// How many products the demo catalogue has.
pub const PRODUCT_COUNT: usize = 1200;
const SEED: u64 = 0x5eed_cafe_2026;

/// SplitMix64: tiny, fast and fully specified, so the catalogue is identical on every machine and
/// with every dependency version (rand's `StdRng` promises no stability across versions).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % ((high - low).max(1) as u64)) as i64
    }
}

struct Leaf {
    slug: &'static str,
    name: &'static str,
    parent: &'static str,
    nouns: &'static [&'static str],
    brands: &'static [&'static str],
    /// Price range in euro cents.
    price: (i64, i64),
    attributes: &'static [(&'static str, &'static [&'static str])],
}

const TOP: &[(&str, &str)] = &[
    ("electronics", "Electronics"),
    ("home-kitchen", "Home & Kitchen"),
    ("fashion", "Fashion"),
    ("sports-outdoors", "Sports & Outdoors"),
    ("books", "Books"),
    ("toys-games", "Toys & Games"),
    ("beauty", "Beauty & Personal Care"),
    ("garden", "Garden"),
    ("grocery", "Grocery"),
    ("office", "Office Supplies"),
];

/// Middle levels (a third level under electronics and fashion).
const MIDDLE: &[(&str, &str, &str)] = &[
    ("audio", "Audio", "electronics"),
    ("computers", "Computers", "electronics"),
    ("footwear", "Footwear", "fashion"),
];

const COLORS: &[&str] = &["black", "white", "silver", "blue", "red", "green", "grey", "navy"];
const SIZES: &[&str] = &["XS", "S", "M", "L", "XL"];
const ADJECTIVES: &[&str] = &[
    "Classic",
    "Premium",
    "Compact",
    "Ultra",
    "Pro",
    "Essential",
    "Deluxe",
    "Lightweight",
    "Everyday",
    "Smart",
    "Eco",
    "Vintage",
    "Modern",
    "Sport",
    "Travel",
];

const LEAVES: &[Leaf] = &[
    Leaf {
        slug: "headphones",
        name: "Headphones",
        parent: "audio",
        nouns: &["Wireless Headphones", "Noise-Cancelling Headphones", "Earbuds", "Studio Headphones"],
        brands: &["Sonora", "Acoustica", "Beatline"],
        price: (2_999, 39_999),
        attributes: &[("color", COLORS), ("connectivity", &["bluetooth", "wired", "usb-c"])],
    },
    Leaf {
        slug: "speakers",
        name: "Speakers",
        parent: "audio",
        nouns: &["Bluetooth Speaker", "Soundbar", "Bookshelf Speakers", "Smart Speaker"],
        brands: &["Sonora", "Woofer & Co"],
        price: (2_499, 59_999),
        attributes: &[("color", COLORS), ("waterproof", &["yes", "no"])],
    },
    Leaf {
        slug: "laptops",
        name: "Laptops",
        parent: "computers",
        nouns: &["Laptop", "Ultrabook", "Gaming Laptop", "Chromebook"],
        brands: &["Novabook", "Zentek", "Apexa"],
        price: (29_999, 249_999),
        attributes: &[("ram", &["8GB", "16GB", "32GB"]), ("storage", &["256GB", "512GB", "1TB"])],
    },
    Leaf {
        slug: "monitors",
        name: "Monitors",
        parent: "computers",
        nouns: &["4K Monitor", "Curved Monitor", "Portable Monitor"],
        brands: &["Zentek", "Viewmax"],
        price: (12_999, 89_999),
        attributes: &[("size", &["24in", "27in", "32in"]), ("panel", &["IPS", "VA", "OLED"])],
    },
    Leaf {
        slug: "smartphones",
        name: "Smartphones",
        parent: "electronics",
        nouns: &["Smartphone", "Phone Case", "Fast Charger"],
        brands: &["Pixelon", "Orbit", "Nokara"],
        price: (999, 129_999),
        attributes: &[("color", COLORS), ("storage", &["128GB", "256GB", "512GB"])],
    },
    Leaf {
        slug: "cameras",
        name: "Cameras",
        parent: "electronics",
        nouns: &["Mirrorless Camera", "Action Camera", "Camera Lens", "Tripod"],
        brands: &["Lumix-Pro", "Shutterly"],
        price: (4_999, 199_999),
        attributes: &[("color", &["black", "silver"]), ("mount", &["E", "RF", "Z"])],
    },
    Leaf {
        slug: "cookware",
        name: "Cookware",
        parent: "home-kitchen",
        nouns: &["Frying Pan", "Saucepan Set", "Dutch Oven", "Wok"],
        brands: &["Cucina", "Ironhearth"],
        price: (1_999, 24_999),
        attributes: &[
            ("material", &["cast iron", "stainless steel", "ceramic"]),
            ("diameter", &["20cm", "24cm", "28cm"]),
        ],
    },
    Leaf {
        slug: "small-appliances",
        name: "Small Appliances",
        parent: "home-kitchen",
        nouns: &["Coffee Maker", "Blender", "Toaster", "Electric Kettle", "Air Fryer"],
        brands: &["Brewster", "Kitchenly", "Voltaic"],
        price: (2_499, 34_999),
        attributes: &[("color", COLORS), ("power", &["800W", "1200W", "2000W"])],
    },
    Leaf {
        slug: "bedding",
        name: "Bedding",
        parent: "home-kitchen",
        nouns: &["Duvet Cover", "Pillow", "Fitted Sheet", "Throw Blanket"],
        brands: &["Dreamweave", "Linenhaus"],
        price: (1_499, 14_999),
        attributes: &[("material", &["cotton", "linen", "bamboo"]), ("color", COLORS)],
    },
    Leaf {
        slug: "mens-clothing",
        name: "Men's Clothing",
        parent: "fashion",
        nouns: &["T-Shirt", "Hoodie", "Chinos", "Denim Jacket", "Oxford Shirt"],
        brands: &["Northwind", "Urbanite"],
        price: (1_499, 12_999),
        attributes: &[("size", SIZES), ("color", COLORS)],
    },
    Leaf {
        slug: "womens-clothing",
        name: "Women's Clothing",
        parent: "fashion",
        nouns: &["Blouse", "Summer Dress", "Cardigan", "Jeans", "Trench Coat"],
        brands: &["Maison Lys", "Urbanite"],
        price: (1_999, 19_999),
        attributes: &[("size", SIZES), ("color", COLORS)],
    },
    Leaf {
        slug: "sneakers",
        name: "Sneakers",
        parent: "footwear",
        nouns: &["Running Shoes", "Sneakers", "Trail Runners"],
        brands: &["Stride", "Fleetfoot"],
        price: (4_999, 17_999),
        attributes: &[("size", &["39", "40", "41", "42", "43", "44", "45"]), ("color", COLORS)],
    },
    Leaf {
        slug: "boots",
        name: "Boots",
        parent: "footwear",
        nouns: &["Chelsea Boots", "Hiking Boots", "Rain Boots"],
        brands: &["Timberline", "Stride"],
        price: (5_999, 24_999),
        attributes: &[
            ("size", &["39", "40", "41", "42", "43", "44", "45"]),
            ("material", &["leather", "suede", "rubber"]),
        ],
    },
    Leaf {
        slug: "fitness",
        name: "Fitness",
        parent: "sports-outdoors",
        nouns: &["Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell"],
        brands: &["Corefit", "Ironclad"],
        price: (999, 19_999),
        attributes: &[("weight", &["2kg", "5kg", "10kg", "16kg"]), ("color", COLORS)],
    },
    Leaf {
        slug: "camping",
        name: "Camping",
        parent: "sports-outdoors",
        nouns: &["Tent", "Sleeping Bag", "Camping Stove", "Headlamp", "Backpack"],
        brands: &["Trailmark", "Summit"],
        price: (1_499, 44_999),
        attributes: &[("capacity", &["1 person", "2 person", "4 person"]), ("color", &["green", "orange", "grey"])],
    },
    Leaf {
        slug: "cycling",
        name: "Cycling",
        parent: "sports-outdoors",
        nouns: &["Bike Helmet", "Bike Light", "Cycling Gloves", "Bike Lock"],
        brands: &["Velocita", "Spoke"],
        price: (1_299, 14_999),
        attributes: &[("size", SIZES), ("color", COLORS)],
    },
    Leaf {
        slug: "fiction",
        name: "Fiction",
        parent: "books",
        nouns: &["Novel", "Thriller", "Short Stories", "Fantasy Saga"],
        brands: &["Penwright Press", "Inkwell Books"],
        price: (799, 2_999),
        attributes: &[("format", &["paperback", "hardcover", "ebook"]), ("language", &["en", "de", "fr"])],
    },
    Leaf {
        slug: "non-fiction",
        name: "Non-Fiction",
        parent: "books",
        nouns: &["Cookbook", "Biography", "History Book", "Travel Guide"],
        brands: &["Penwright Press", "Atlas House"],
        price: (999, 4_999),
        attributes: &[("format", &["paperback", "hardcover"]), ("language", &["en", "de"])],
    },
    Leaf {
        slug: "board-games",
        name: "Board Games",
        parent: "toys-games",
        nouns: &["Strategy Game", "Party Game", "Card Game", "Chess Set"],
        brands: &["Meeple Works", "Dicebox"],
        price: (999, 7_999),
        attributes: &[("players", &["2", "2-4", "3-6"]), ("age", &["8+", "10+", "14+"])],
    },
    Leaf {
        slug: "building-sets",
        name: "Building Sets",
        parent: "toys-games",
        nouns: &["Building Set", "Robot Kit", "Marble Run"],
        brands: &["Brickly", "Constructo"],
        price: (1_499, 14_999),
        attributes: &[("pieces", &["250", "500", "1000"]), ("age", &["6+", "8+", "12+"])],
    },
    Leaf {
        slug: "skincare",
        name: "Skincare",
        parent: "beauty",
        nouns: &["Face Cream", "Serum", "Cleanser", "Sunscreen"],
        brands: &["Lumiere", "Pure Botanica"],
        price: (799, 6_999),
        attributes: &[("skin_type", &["dry", "oily", "sensitive", "all"]), ("volume", &["30ml", "50ml", "100ml"])],
    },
    Leaf {
        slug: "fragrances",
        name: "Fragrances",
        parent: "beauty",
        nouns: &["Eau de Parfum", "Eau de Toilette", "Body Mist"],
        brands: &["Maison Lys", "Aurum"],
        price: (1_999, 14_999),
        attributes: &[("volume", &["30ml", "50ml", "100ml"]), ("family", &["floral", "woody", "citrus"])],
    },
    Leaf {
        slug: "garden-tools",
        name: "Garden Tools",
        parent: "garden",
        nouns: &["Pruning Shears", "Garden Hose", "Lawn Mower", "Rake"],
        brands: &["Greenthumb", "Rootwell"],
        price: (999, 39_999),
        attributes: &[("material", &["steel", "aluminium", "plastic"]), ("color", &["green", "black", "orange"])],
    },
    Leaf {
        slug: "plants",
        name: "Plants",
        parent: "garden",
        nouns: &["Monstera", "Olive Tree", "Herb Garden Kit", "Succulent Set"],
        brands: &["Greenthumb", "Verdant"],
        price: (799, 9_999),
        attributes: &[("light", &["shade", "partial", "full sun"]), ("pot", &["12cm", "17cm", "24cm"])],
    },
    Leaf {
        slug: "coffee-tea",
        name: "Coffee & Tea",
        parent: "grocery",
        nouns: &["Espresso Beans", "Green Tea", "Ground Coffee", "Chai Blend"],
        brands: &["Roastery 9", "Leaf & Co"],
        price: (499, 2_999),
        attributes: &[("origin", &["Ethiopia", "Colombia", "India", "Japan"]), ("weight", &["250g", "500g", "1kg"])],
    },
    Leaf {
        slug: "snacks",
        name: "Snacks",
        parent: "grocery",
        nouns: &["Dark Chocolate", "Trail Mix", "Crackers", "Granola"],
        brands: &["Nibble", "Harvest Lane"],
        price: (199, 1_499),
        attributes: &[("diet", &["vegan", "gluten-free", "none"]), ("weight", &["100g", "250g", "500g"])],
    },
    Leaf {
        slug: "stationery",
        name: "Stationery",
        parent: "office",
        nouns: &["Notebook", "Fountain Pen", "Desk Organizer", "Sticky Notes"],
        brands: &["Scriba", "Papermill"],
        price: (299, 4_999),
        attributes: &[("color", COLORS), ("pack", &["1", "3", "10"])],
    },
    Leaf {
        slug: "office-furniture",
        name: "Office Furniture",
        parent: "office",
        nouns: &["Office Chair", "Standing Desk", "Monitor Arm", "Desk Lamp"],
        brands: &["Ergonomix", "Deskline"],
        price: (2_999, 79_999),
        attributes: &[("color", COLORS), ("material", &["wood", "steel", "mesh"])],
    },
];

/// What one [`load`] run added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub categories_created: usize,
    pub products_created: usize,
}

/// Every category of the demo catalogue, parents before children.
pub fn categories() -> Vec<ValidCategory> {
    let top = TOP.iter().map(|(slug, name)| (*slug, *name, None));
    let middle = MIDDLE.iter().map(|(slug, name, parent)| (*slug, *name, Some(*parent)));
    let leaves = LEAVES.iter().map(|leaf| (leaf.slug, leaf.name, Some(leaf.parent)));
    top.chain(middle)
        .chain(leaves)
        .map(|(slug, name, parent)| ValidCategory {
            slug: slug.to_owned(),
            name: name.to_owned(),
            parent: parent.map(str::to_owned),
        })
        .collect()
}

/// The demo products, in a fixed order with fixed SKUs (`DEMO-00001`...).
pub fn products() -> Vec<ValidProduct> {
    products_n(PRODUCT_COUNT)
}

/// The first `count` products of the same endless sequence: a larger catalogue (the search
/// benchmark's 100,000) starts with exactly the demo one.
pub fn products_n(count: usize) -> Vec<ValidProduct> {
    let mut rng = Rng(SEED);
    (0..count)
        .map(|i| {
            let leaf = &LEAVES[i % LEAVES.len()];
            let brand = rng.pick(leaf.brands);
            let adjective = rng.pick(ADJECTIVES);
            let noun = rng.pick(leaf.nouns);
            let model = format!("{}{}", (b'A' + rng.below(26) as u8) as char, 100 + rng.below(900));
            let name = format!("{brand} {adjective} {noun} {model}");
            // Shop prices end in 99 cents.
            let price = (rng.range(leaf.price.0, leaf.price.1) / 100) * 100 + 99;
            let mut attributes = serde_json::Map::new();
            attributes.insert("brand".into(), brand.into());
            for (key, values) in leaf.attributes {
                attributes.insert((*key).into(), rng.pick(values).into());
            }
            let feature =
                rng.pick(&["durable", "elegant", "award-winning", "best-selling", "sustainably made", "easy to use"]);
            let description = format!(
                "The {brand} {adjective} {noun} is a {feature} choice in {}. Designed for everyday use, it combines \
                 reliable quality with thoughtful details. Model {model}.",
                leaf.name.to_lowercase()
            );
            // About one product in twelve starts out of stock.
            let initial_stock = if rng.below(12) == 0 { 0 } else { rng.range(1, 250) as i32 };
            let sku = format!("DEMO-{:05}", i + 1);
            ValidProduct {
                image_urls: vec![format!("https://images.shop.example/demo/{sku}.jpg")],
                sku,
                name,
                description,
                price: Money { amount_minor: price, currency: "EUR".into() },
                category: Some(leaf.slug.to_owned()),
                attributes: serde_json::Value::Object(attributes),
                active: true,
                low_stock_threshold: 5,
                initial_stock,
            }
        })
        .collect()
}

/// Loads the demo catalogue with `count` products; idempotent (a second run adds nothing and emits
/// no events).
pub async fn load(pool: &DbPool, count: usize) -> anyhow::Result<Summary> {
    let mut conn = pool.get().await.context("connecting to the catalog database")?;
    let categories = categories();
    let products = products_n(count);
    let summary = conn
        .transaction::<Summary, diesel::result::Error, _>(async |conn| {
            let mut summary = Summary { categories_created: 0, products_created: 0 };
            for category in &categories {
                summary.categories_created += db::categories::insert_if_absent(conn, category).await?;
            }
            for product in &products {
                if let Some(row) = db::products::insert_if_absent(conn, ProductId::new(), product).await? {
                    events::products::created(conn, &row, product.initial_stock).await?;
                    summary.products_created += 1;
                }
            }
            Ok(summary)
        })
        .await
        .context("loading the demo catalogue")?;
    if summary.products_created > 0 {
        // Fresh statistics for the planner: right after a bulk load it still believes the table
        // is small and picks plans that scan all of it (a 100,000-product search took 149 ms
        // instead of 9 ms until autovacuum got round to it).
        diesel_async::RunQueryDsl::execute(diesel::sql_query("ANALYZE products, categories"), &mut conn)
            .await
            .context("analysing the loaded catalogue")?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_larger_catalogue_starts_with_the_demo_one() {
        let demo = products();
        let larger = products_n(PRODUCT_COUNT + 50);
        assert_eq!(&larger[..PRODUCT_COUNT], &demo[..]);
        assert_eq!(larger.last().map(|p| p.sku.as_str()), Some("DEMO-01250"));
    }

    #[test]
    fn the_catalogue_is_deterministic_and_valid() {
        let first = products();
        assert_eq!(first, products(), "same seed, same catalogue");
        assert!(first.len() >= 1000);
        let skus: HashSet<_> = first.iter().map(|p| &p.sku).collect();
        assert_eq!(skus.len(), first.len());
        let categories = categories();
        let slugs: HashSet<_> = categories.iter().map(|c| c.slug.as_str()).collect();
        assert!(categories.len() >= 10);
        for (index, category) in categories.iter().enumerate() {
            if let Some(parent) = &category.parent {
                assert!(
                    categories[..index].iter().any(|c| &c.slug == parent),
                    "{} comes after its parent",
                    category.slug
                );
            }
            assert!(crate::domain::category::check_slug(&category.slug).is_ok());
        }
        for product in &first {
            assert!(slugs.contains(product.category.as_deref().unwrap_or_default()));
            let input = crate::domain::ProductInput {
                sku: Some(product.sku.clone()),
                name: Some(product.name.clone()),
                description: Some(product.description.clone()),
                price: Some(product.price.clone()),
                category: product.category.clone(),
                attributes: Some(product.attributes.clone()),
                image_urls: Some(product.image_urls.clone()),
                active: Some(true),
                low_stock_threshold: Some(product.low_stock_threshold),
                initial_stock: Some(product.initial_stock),
            };
            assert_eq!(input.validate_new().as_ref(), Ok(product), "{} passes the API's validation", product.sku);
        }
    }
}
