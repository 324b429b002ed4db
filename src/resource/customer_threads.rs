//! `customer_threads` (class `CustomerThread`, table `customer_thread`),
//! docs/prestashop/resources.md.

use super::FieldType::{self, Date, Int};
use super::{field, id, AssociationDef, ResourceDef};

const UID: &str = "isUnsignedId";

pub static CUSTOMER_THREADS: ResourceDef = ResourceDef {
    name: "customer_threads",
    singular: "customer_thread",
    class_name: "CustomerThread",
    description: "Customer services threads",
    table: "customer_thread",
    fields: &[
        id("id_customer_thread"),
        field("id_lang", Int)
            .validate(UID)
            .required()
            .xlink("languages"),
        field("id_shop", Int).validate(UID).xlink("shops"),
        field("id_customer", Int).validate(UID).xlink("customers"),
        field("id_order", Int).validate(UID).xlink("orders"),
        field("id_product", Int).validate(UID).xlink("products"),
        // No xlink on id_contact: CustomerThread declares none (docs/prestashop/resources.md).
        field("id_contact", Int).validate(UID).required(),
        field("email", FieldType::String)
            .validate("isEmail")
            .max_size(255),
        // No size in the class; the column is varchar(12) (docs/compatibility.md W14).
        field("token", FieldType::String)
            .validate("isGenericName")
            .required(),
        field("status", FieldType::String),
        field("date_add", Date).validate("isDate"),
        field("date_upd", Date).validate("isDate"),
    ],
    validation_order: &[
        "id_lang",
        "id_contact",
        "id_shop",
        "id_customer",
        "id_order",
        "id_product",
        "email",
        "token",
        "status",
        "date_add",
        "date_upd",
    ],
    associations: &[AssociationDef {
        name: "customer_messages",
        node_type: "customer_message",
        table: "customer_message",
        id_column: "id_customer_message",
        parent_column: "id_customer_thread",
    }],
};
