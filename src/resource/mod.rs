//! The API resources as data: field lists, validators, xlinks and associations.
//!
//! This is the one place that knows what `customer_threads` and `customer_messages` look like
//! (PrestaShop's `ObjectModel::getWebserviceParameters` for `CustomerThread` and
//! `CustomerMessage`, docs/prestashop/resources.md). Everything else — query parsing, SQL,
//! rendering, validation — is driven by these definitions. It imports nothing from the rest of the
//! crate but the PHP helpers `store` needs.

pub mod customer_messages;
pub mod customer_threads;
pub mod store;

/// How PrestaShop types a field (`ObjectModel::TYPE_*`); decides casting and rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The primary key, always first and always named `id`.
    Id,
    Int,
    Bool,
    String,
    Html,
    Date,
}

/// One field of a resource, in output order.
#[derive(Debug)]
pub struct FieldDef {
    /// Element / JSON member name (`id`, `id_lang`, ...).
    pub name: &'static str,
    /// Column in the table (differs from `name` only for `id`).
    pub column: &'static str,
    pub kind: FieldType,
    /// PrestaShop validator name as shown in `format="..."` (`isUnsignedId`, ...).
    pub validator: Option<&'static str>,
    /// `maxSize` in characters.
    pub max_size: Option<u32>,
    pub required: bool,
    /// Resource linked by `xlink:href` when the value is truthy (`languages`, `shops`, ...).
    pub xlink: Option<&'static str>,
}

/// A field whose column has the field's name, typed `kind`, with no validator, size or xlink
/// and not required; the methods below add those, so a resource's fields read like a table:
/// `field("id_lang", Int).validate(UID).required().xlink("languages")`.
const fn field(name: &'static str, kind: FieldType) -> FieldDef {
    FieldDef {
        name,
        column: name,
        kind,
        validator: None,
        max_size: None,
        required: false,
        xlink: None,
    }
}

/// The primary key: always first, named `id`, stored in `column`.
const fn id(column: &'static str) -> FieldDef {
    FieldDef {
        column,
        ..field("id", FieldType::Id)
    }
}

impl FieldDef {
    /// PrestaShop's validator for the field (`isUnsignedId`, ...).
    const fn validate(self, validator: &'static str) -> FieldDef {
        FieldDef {
            validator: Some(validator),
            ..self
        }
    }

    /// `maxSize` in characters.
    const fn max_size(self, max_size: u32) -> FieldDef {
        FieldDef {
            max_size: Some(max_size),
            ..self
        }
    }

    const fn required(self) -> FieldDef {
        FieldDef {
            required: true,
            ..self
        }
    }

    /// The resource `xlink:href` points to when the value is truthy.
    const fn xlink(self, resource: &'static str) -> FieldDef {
        FieldDef {
            xlink: Some(resource),
            ..self
        }
    }
}

/// An association rendered inside `<associations>` (only `customer_messages` on threads).
#[derive(Debug)]
pub struct AssociationDef {
    /// Wrapper element and JSON key, and the `api` attribute (`customer_messages`).
    pub name: &'static str,
    /// Item element and `nodeType` attribute (`customer_message`).
    pub node_type: &'static str,
    /// Table holding the associated rows and its primary key and foreign key columns.
    pub table: &'static str,
    pub id_column: &'static str,
    pub parent_column: &'static str,
}

/// A webservice resource.
#[derive(Debug)]
pub struct ResourceDef {
    /// URL name and plural element (`customer_threads`).
    pub name: &'static str,
    /// Singular element (`customer_thread`).
    pub singular: &'static str,
    /// PHP class name, used in validation messages (`CustomerThread`).
    pub class_name: &'static str,
    /// Text of `<description>` in the root listing.
    pub description: &'static str,
    /// Table without prefix (`customer_thread`).
    pub table: &'static str,
    /// Fields in output order; `fields[0]` is always `id`.
    pub fields: &'static [FieldDef],
    /// Field names in ObjectModel `$definition` order: the order validation runs in
    /// (docs/prestashop/resources.md).
    pub validation_order: &'static [&'static str],
    pub associations: &'static [AssociationDef],
}

impl ResourceDef {
    /// Index of a field by its API name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn association(&self, name: &str) -> Option<&'static AssociationDef> {
        self.associations.iter().find(|a| a.name == name)
    }

    /// Column of the primary key (`id_customer_thread`).
    pub fn id_column(&self) -> &'static str {
        self.fields[0].column
    }

    /// Field names that may be used in `filter[...]` and `sort` (docs/prestashop/lists.md#filters):
    /// every field, but `date_add`/`date_upd` only when `with_dates`.
    pub fn filterable(&self, with_dates: bool) -> impl Iterator<Item = &'static FieldDef> + '_ {
        self.fields
            .iter()
            .filter(move |f| with_dates || f.kind != FieldType::Date)
    }
}

/// The resources threadgate serves, in byte order of their names (the root listing's order).
pub static SERVED: [&ResourceDef; 2] = [
    &customer_messages::CUSTOMER_MESSAGES,
    &customer_threads::CUSTOMER_THREADS,
];

/// Looks up a served resource by its case-sensitive URL name.
pub fn served(name: &str) -> Option<&'static ResourceDef> {
    SERVED.iter().copied().find(|r| r.name == name)
}

/// Every resource a core PrestaShop 8 shop registers, in byte order
/// (docs/prestashop/errors.md#resource-names). Used for the "did you mean" list of error 27; only
/// the two in [`SERVED`] are implemented.
pub const CORE_RESOURCE_NAMES: [&str; 69] = [
    "addresses",
    "attachments",
    "carriers",
    "cart_rules",
    "carts",
    "categories",
    "combinations",
    "configurations",
    "contacts",
    "content_management_system",
    "countries",
    "currencies",
    "customer_messages",
    "customer_threads",
    "customers",
    "customizations",
    "deliveries",
    "employees",
    "groups",
    "guests",
    "image_types",
    "images",
    "languages",
    "manufacturers",
    "messages",
    "order_carriers",
    "order_cart_rules",
    "order_details",
    "order_histories",
    "order_invoices",
    "order_payments",
    "order_slip",
    "order_states",
    "orders",
    "price_ranges",
    "product_customization_fields",
    "product_feature_values",
    "product_features",
    "product_option_values",
    "product_options",
    "product_suppliers",
    "products",
    "search",
    "shop_groups",
    "shop_urls",
    "shops",
    "specific_price_rules",
    "specific_prices",
    "states",
    "stock_availables",
    "stock_movement_reasons",
    "stock_movements",
    "stocks",
    "stores",
    "suppliers",
    "supply_order_details",
    "supply_order_histories",
    "supply_order_receipt_histories",
    "supply_order_states",
    "supply_orders",
    "tags",
    "tax_rule_groups",
    "tax_rules",
    "taxes",
    "translated_configurations",
    "warehouse_product_locations",
    "warehouses",
    "weight_ranges",
    "zones",
];

/// One loaded row: every field's value as the database returns it (a string, or `None` for
/// NULL, like PDO with `ATTR_STRINGIFY_FETCHES`, docs/prestashop/database.md#fetched-values), in
/// the resource's field order, plus the ids of each association's items (as strings, in
/// `associations` order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entity {
    pub values: Vec<Option<String>>,
    pub associations: Vec<Vec<String>>,
}

impl Entity {
    /// The primary key value (always present for a stored row).
    pub fn id(&self) -> &str {
        self.values[0].as_deref().unwrap_or("")
    }
}

/// The six methods of PrestaShop's permission model, in the root listing's attribute order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Put,
    Post,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Patch,
        Method::Delete,
        Method::Head,
    ];

    /// Parses a method name exactly as PrestaShop does: verbatim and case-sensitive
    /// (docs/prestashop/requests.md#method-and-ps_method).
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    /// Lower-case attribute name in the root listing (`get="true"`).
    pub fn attribute(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Head => "head",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resource_names_are_in_byte_order() {
        let mut sorted = CORE_RESOURCE_NAMES;
        sorted.sort_unstable();
        assert_eq!(sorted, CORE_RESOURCE_NAMES);
    }

    #[test]
    fn served_resources_are_core_resources_in_byte_order() {
        let names: Vec<_> = SERVED.iter().map(|r| r.name).collect();
        assert_eq!(names, ["customer_messages", "customer_threads"]);
        assert!(names.iter().all(|n| CORE_RESOURCE_NAMES.contains(n)));
    }

    #[test]
    fn validation_order_names_every_field_but_id() {
        for r in SERVED {
            let mut a: Vec<_> = r.fields[1..].iter().map(|f| f.name).collect();
            let mut b = r.validation_order.to_vec();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{}", r.name);
            assert_eq!(r.fields[0].name, "id");
        }
    }
}
