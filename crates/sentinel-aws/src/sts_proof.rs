//! The server side of the identity proof: a checked proof sent, exactly as the caller signed
//! it, to its STS endpoint through the SDK's own HTTP stack, and STS's answer read. `200` names
//! the caller (ARN and account); any other answer refuses the proof, with STS's error code and
//! message (a forged signature is `SignatureDoesNotMatch`).

use std::time::Duration;

use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::TlsContext;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use http_body_util::{BodyExt, Limited};
use sentinel_core::caller::Caller;
use sentinel_protocol::{CheckedProof, ProofVerifier, VerifyError};

use crate::sdk;

/// The largest STS answer read; a `GetCallerIdentity` answer is under 1 KiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The most of STS's error message passed on.
const MAX_MESSAGE_CHARS: usize = 512;

/// Sends proofs to STS over a pooled HTTPS connector.
#[derive(Debug)]
pub struct StsProofVerifier {
    connector: Connector,
}

impl StsProofVerifier {
    /// A verifier whose connections time out after `timeout` (connect and read each).
    pub fn new(timeout: Duration) -> StsProofVerifier {
        StsProofVerifier {
            connector: sdk::connector(TlsContext::default(), timeout, timeout),
        }
    }
}

#[async_trait::async_trait]
impl ProofVerifier for StsProofVerifier {
    async fn verify(&self, proof: &CheckedProof) -> Result<Caller, VerifyError> {
        let unavailable = |problem: String| VerifyError::Unavailable(problem);
        let mut request = http::Request::new(SdkBody::from(proof.body()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = proof.uri.clone();
        *request.headers_mut() = proof.headers.clone();
        let request = HttpRequest::try_from(request)
            .map_err(|error| unavailable(format!("cannot build the request: {error}")))?;
        let response = self
            .connector
            .call(request)
            .await
            .map_err(|error| unavailable(format!("cannot reach {}: {error}", proof.uri)))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| unavailable(format!("cannot read the answer: {error}")))?
            .to_bytes();
        let text = std::str::from_utf8(&body)
            .map_err(|_| unavailable(format!("the answer ({status}) is not text")))?;
        if status == 200 {
            return caller(text).ok_or_else(|| {
                unavailable("the answer (200) is not a GetCallerIdentity result".to_owned())
            });
        }
        let (code, message) = error(text).unwrap_or_else(|| {
            (
                "UnknownError".to_owned(),
                "STS gave no error details".to_owned(),
            )
        });
        if (500..600).contains(&status) {
            return Err(unavailable(format!(
                "STS answered {status}: {code}: {message}"
            )));
        }
        Err(VerifyError::Refused {
            status,
            code,
            message,
        })
    }
}

/// The caller in a `GetCallerIdentityResponse`.
fn caller(xml: &str) -> Option<Caller> {
    let mut document = Document::new(xml);
    let mut root = document.root_element().ok()?;
    if !root.start_el().matches("GetCallerIdentityResponse") {
        return None;
    }
    let mut arn = None;
    let mut account = None;
    let mut user_id = None;
    while let Some(mut element) = root.next_tag() {
        if !element.start_el().matches("GetCallerIdentityResult") {
            continue;
        }
        while let Some(mut field) = element.next_tag() {
            if field.start_el().matches("Arn") {
                arn = text(&mut field);
            } else if field.start_el().matches("Account") {
                account = text(&mut field);
            } else if field.start_el().matches("UserId") {
                user_id = text(&mut field);
            }
        }
    }
    Some(Caller {
        arn: arn?,
        account: account?,
        user_id: user_id?,
    })
}

/// The code and message of an STS `ErrorResponse` (the message with its request ID). AWS
/// puts `Error` in the root; some emulators wrap it in `Errors`.
fn error(xml: &str) -> Option<(String, String)> {
    let mut document = Document::new(xml);
    let mut root = document.root_element().ok()?;
    let mut found = ErrorFields::default();
    while let Some(mut element) = root.next_tag() {
        if element.start_el().matches("RequestId") {
            found.request_id = text(&mut element);
        } else if element.start_el().matches("Error") {
            found.read(&mut element);
        } else if element.start_el().matches("Errors") {
            while let Some(mut inner) = element.next_tag() {
                if inner.start_el().matches("Error") {
                    found.read(&mut inner);
                }
            }
        }
    }
    let mut message: String = found
        .message
        .unwrap_or_default()
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if let Some(id) = found.request_id {
        message.push_str(&format!(" (request ID {id})"));
    }
    Some((found.code?, message))
}

/// What an error answer says.
#[derive(Default)]
struct ErrorFields {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

impl ErrorFields {
    /// Reads the `Code` and `Message` of an `Error` element.
    fn read(&mut self, error: &mut ScopedDecoder<'_, '_>) {
        while let Some(mut field) = error.next_tag() {
            if field.start_el().matches("Code") {
                self.code = text(&mut field);
            } else if field.start_el().matches("Message") {
                self.message = text(&mut field);
            }
        }
    }
}

fn text(element: &mut ScopedDecoder<'_, '_>) -> Option<String> {
    try_data(element).ok().map(|text| text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_caller_from_a_get_caller_identity_answer() {
        let xml = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/alice</Arn>
    <UserId>AIDAEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#;
        assert_eq!(
            caller(xml),
            Some(Caller {
                arn: "arn:aws:iam::123456789012:user/alice".into(),
                account: "123456789012".into(),
                user_id: "AIDAEXAMPLE".into(),
            })
        );
        assert_eq!(
            caller("<AssumeRoleResponse><Arn>x</Arn></AssumeRoleResponse>"),
            None
        );
        assert_eq!(caller("not xml"), None);
        assert_eq!(
            caller(
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>x</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>"
            ),
            None
        );
    }

    #[test]
    fn reads_the_code_message_and_request_id_of_an_error() {
        let xml = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>
    <Message>The request signature we calculated does not match the signature you provided.</Message></Error>
  <RequestId>req-42</RequestId>
</ErrorResponse>"#;
        let (code, message) = error(xml).expect("error");
        assert_eq!(code, "SignatureDoesNotMatch");
        assert_eq!(
            message,
            "The request signature we calculated does not match the signature you provided. (request ID req-42)"
        );
        assert_eq!(error("<html>bad gateway</html>"), None);
        let wrapped = "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>\
            <Message>no match</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";
        assert_eq!(
            error(wrapped),
            Some(("SignatureDoesNotMatch".into(), "no match".into()))
        );
    }
}
