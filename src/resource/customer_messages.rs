//! `customer_messages` (class `CustomerMessage`, table `customer_message`),
//! docs/prestashop/resources.md.

use super::FieldType::{self, Bool, Date, Html, Int};
use super::{field, id, ResourceDef};

pub static CUSTOMER_MESSAGES: ResourceDef = ResourceDef {
    name: "customer_messages",
    singular: "customer_message",
    class_name: "CustomerMessage",
    description: "Customer services messages",
    table: "customer_message",
    fields: &[
        id("id_customer_message"),
        field("id_employee", Int)
            .validate("isUnsignedId")
            .xlink("employees"),
        // No validator on id_customer_thread (docs/prestashop/resources.md,
        // docs/prestashop/writes.md#defaults).
        field("id_customer_thread", Int).xlink("customer_threads"),
        field("ip_address", FieldType::String)
            .validate("isIp2Long")
            .max_size(15),
        field("message", Html)
            .validate("isCleanHtml")
            .max_size(4_194_303)
            .required(),
        field("file_name", FieldType::String),
        field("user_agent", FieldType::String),
        field("private", Bool).validate("isBool"),
        field("date_add", Date).validate("isDate"),
        field("date_upd", Date).validate("isDate"),
        field("read", Bool).validate("isBool"),
    ],
    validation_order: &[
        "id_employee",
        "id_customer_thread",
        "ip_address",
        "message",
        "file_name",
        "user_agent",
        "private",
        "date_add",
        "date_upd",
        "read",
    ],
    associations: &[],
};
