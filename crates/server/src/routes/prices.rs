//! The price routes: the manager's price table (model → US dollars per million tokens), listed,
//! looked up by model, and changed at runtime by an admin. A change lasts until the process
//! exits and is this instance's alone; permanent prices go in `prompt-manager.toml`'s `[prices]`.

use prompt_manager::Price;
use serde::Serialize;
use utoipa::ToSchema;

use super::*;
use crate::state::AdminAccess;

/// What a model costs, in US dollars per million tokens.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceBody {
    /// Per million input tokens.
    #[schema(minimum = 0.0, example = 2.5)]
    pub(crate) input: f64,
    /// Per million output tokens.
    #[schema(minimum = 0.0, example = 10.0)]
    pub(crate) output: f64,
    /// Per million cached input tokens, where the provider prices them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, example = 1.25)]
    pub(crate) cached_input: Option<f64>,
}

/// A model's price.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelPrice {
    /// The model: the table's entry when listed or set (lower case), the name asked about when
    /// looked up.
    pub(crate) model: String,
    /// Per million input tokens.
    pub(crate) input: f64,
    /// Per million output tokens.
    pub(crate) output: f64,
    /// Per million cached input tokens, where the provider prices them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cached_input: Option<f64>,
}

impl ModelPrice {
    /// `model` at `price` (the schema lists the fields: a flattened body that denies unknown
    /// fields would describe `model` as one).
    fn new(model: String, price: PriceBody) -> Self {
        ModelPrice {
            model,
            input: price.input,
            output: price.output,
            cached_input: price.cached_input,
        }
    }
}

/// Every priced model.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PricesResponse {
    /// By model name.
    pub(crate) prices: Vec<ModelPrice>,
}

/// The path of a model's price.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct ModelPath {
    /// A model name (`gpt-4o-mini`, `claude-sonnet-4-5-20250929`; percent-encoded), compared in
    /// lower case; a dated snapshot is priced as its model unless it has its own entry
    #[param(
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        min_length = 1,
        max_length = 200,
        example = "gpt-4o-mini"
    )]
    model: String,
}

fn body(price: Price) -> PriceBody {
    PriceBody {
        input: price.input,
        output: price.output,
        cached_input: price.cached_input,
    }
}

fn no_prices() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_price_book",
        "this server has no price table (built without the `cost` feature)",
    )
}

/// Every model the price table prices by name, sorted: the shipped table, the configuration's
/// `[prices]` and runtime changes.
#[utoipa::path(get, path = "/v1/prices", tag = "prices",
    responses((status = 200, description = "The price table", body = PricesResponse),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_prices(_: ReadAccess, State(state): State<AppState>) -> Json<PricesResponse> {
    let prices = state
        .inner
        .pm
        .prices()
        .map(|book| book.entries())
        .unwrap_or_default()
        .into_iter()
        .map(|(model, price)| ModelPrice::new(model, body(price)))
        .collect();
    Json(PricesResponse { prices })
}

/// The price of one model, by the table's lookup rules (exact name, then without a provider
/// prefix or a snapshot suffix). An unknown model has no price: 404, never a price of zero.
#[utoipa::path(get, path = "/v1/prices/{model}", tag = "prices",
    params(ModelPath),
    responses((status = 200, description = "The price", body = ModelPrice),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No price for this model", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_price(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Json<ModelPrice>, ApiError> {
    let book = state.inner.pm.prices().ok_or_else(no_prices)?;
    match book.price(&model) {
        Some(price) => Ok(Json(ModelPrice::new(model, body(price)))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_price",
            format!("no price for `{model}`: set one with PUT /v1/prices/{{model}} or in prompt-manager.toml"),
        )),
    }
}

/// Sets (adds or replaces) a model's price while the server runs (admin). Amounts must be
/// finite and non-negative; a refused price changes nothing. The change is this instance's and
/// lasts until it exits: put lasting prices in `prompt-manager.toml`.
#[utoipa::path(put, path = "/v1/prices/{model}", tag = "prices",
    params(ModelPath),
    request_body = PriceBody,
    responses((status = 200, description = "The price as set", body = ModelPrice),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No price table on this server", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A negative amount, a bad model name, or an unknown field", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn set_price(
    _: AdminAccess,
    State(state): State<AppState>,
    Path(model): Path<String>,
    JsonBody(request): JsonBody<PriceBody>,
) -> Result<Json<ModelPrice>, ApiError> {
    let book = state.inner.pm.prices().ok_or_else(no_prices)?;
    let price = Price {
        input: request.input,
        output: request.output,
        cached_input: request.cached_input,
    };
    book.set_price(&model, price).map_err(|e| match e {
        Error::InvalidArgument { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_price", e.to_string())
        }
        other => ApiError::from(other),
    })?;
    tracing::info!(model = %model, input = price.input, output = price.output, "price set at runtime");
    let model = model.trim().to_lowercase();
    Ok(Json(ModelPrice::new(model, body(price))))
}
