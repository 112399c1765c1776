//! Token-endpoint answers gathered from public reports: each body as the endpoint sent it (the
//! reporter's log escaping undone, ids and names left as the reporter masked them), where it
//! was published, and what it must classify to.
//!
//! `source` names a GitHub issue or pull request as `owner/repo#number` (a file as
//! `owner/repo path`, an RFC by its section). A note after ` -- ` says what was filled in: the
//! HTTP status when the report does not show it (then the status that endpoint sends for that
//! error, as other reports of it show), the end of a body the report cut, or the JSON around a
//! description the report quotes alone.

use super::Hint;
use crate::oauth::ProviderKind::{self, *};
use mailbeat_sdk::Reason::{self, *};

pub(super) struct Fixture {
    pub source: &'static str,
    pub provider: ProviderKind,
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: &'static str,
    pub hint: Hint,
    pub reason: Reason,
    pub terminal: bool,
    /// Words the message must contain.
    pub says: &'static [&'static str],
}

const NONE: Hint = Hint {
    predicted_expiry_passed: false,
    short_lifetime: false,
};
const PASSED: Hint = Hint {
    predicted_expiry_passed: true,
    short_lifetime: false,
};
const TESTING: Hint = Hint {
    predicted_expiry_passed: true,
    short_lifetime: true,
};
const JSON: Option<&str> = Some("application/json; charset=utf-8");
const HTML: Option<&str> = Some("text/html; charset=UTF-8");

#[allow(clippy::too_many_arguments)]
const fn f(
    source: &'static str,
    provider: ProviderKind,
    status: u16,
    content_type: Option<&'static str>,
    body: &'static str,
    hint: Hint,
    reason: Reason,
    terminal: bool,
    says: &'static [&'static str],
) -> Fixture {
    Fixture {
        source,
        provider,
        status,
        content_type,
        body,
        hint,
        reason,
        terminal,
        says,
    }
}

#[rustfmt::skip]
pub(super) static FIXTURES: &[Fixture] = &[
    // ---- Google ---------------------------------------------------------------------------------
    // The same words for a revoked token and for one that died of its lifetime: the hint decides.
    f("celorodovalho/phpdfbot#73", Google, 400, JSON,
      r##"{
  "error": "invalid_grant",
  "error_description": "Token has been expired or revoked."
}"##, NONE, OauthRefreshTokenRevoked, true, &["invalid_grant", "Token has been expired or revoked."]),
    f("AppleIdLoginHelper/LoginHelper#8 (POST https://oauth2.googleapis.com/token, 400); tarickb/sasl-xoauth2#29 (7 days in Testing)", Google, 400, JSON,
      r##"{
"error": "invalid_grant",
"error_description": "Token has been expired or revoked."
}"##, TESTING, OauthRefreshTokenExpired, true, &["invalid_grant"]),
    f("GeneralTask/task-manager#2169", Google, 400, JSON,
      r##"{
  "error": "invalid_grant",
  "error_description": "Token has been expired or revoked."
}"##, PASSED, OauthRefreshTokenExpired, true, &["invalid_grant"]),
    f("DipshikaSpotops/spotopsCRMv2 backend/docs/RAPT_ERROR_FIX.md; anthropics/blobfile#2 (status 400, www.googleapis.com/oauth2/v4/token)", Google, 400, JSON,
      r##"{
  "error": "invalid_grant",
  "error_description": "reauth related error (invalid_rapt)",
  "error_subtype": "invalid_rapt"
}"##, NONE, OauthRefreshTokenExpired, true, &["invalid_grant (invalid_rapt)", "reauth related error"]),
    f("FlowCrypt/flowcrypt-browser#1409 (status 400)", Google, 400, JSON,
      r##"{
  "error": "admin_policy_enforced",
  "error_description": "This application is currently blocked.\nIf you require access, please visit ........................ and submit a &amp;#39;Chrome and G-Suite Extension Review&amp;#39; request. The form can be found at this link: ........................................."
}"##, NONE, OauthConsentRequired, true, &["admin_policy_enforced: This application is currently blocked."]),
    f("simonrob/email-oauth2-proxy#362 -- status 401, as Google's invalid_client page shows it (WWBN/AVideo#1571)", Google, 401, JSON,
      r##"{
  "error": "invalid_client",
  "error_description": "The OAuth client was not found."
}"##, NONE, OauthInvalidClient, true, &["invalid_client: The OAuth client was not found."]),
    f("xyou365/AutoRclone#98 -- status 401, as prasmussen/gdrive#646 shows it", Google, 401, JSON,
      r##"{
  "error": "deleted_client",
  "error_description": "The OAuth client was deleted."
}"##, NONE, OauthInvalidClient, true, &["deleted_client"]),
    f("baptisteArno/typebot.io#580 (oauth2.googleapis.com/token); status 401 from taylorwilsdon/google_workspace_mcp#933", Google, 401, JSON,
      r##"{
  "error": "unauthorized_client",
  "error_description": "Unauthorized"
}"##, NONE, OauthInvalidClient, true, &["unauthorized_client: Unauthorized"]),
    f("nextcloud/server#40863 (POST https://oauth2.googleapis.com/token, 400 Bad Request)", Google, 400, JSON,
      r##"{
  "error": "invalid_grant",
  "error_description": "Bad Request"
}"##, NONE, OauthRefreshTokenRevoked, true, &["invalid_grant: Bad Request"]),
    f("googleapis/google-auth-library-python#368, googleads/google-ads-java#117 -- status not in the reports", Google, 400, JSON,
      r##"{
  "error": "internal_failure"
}"##, NONE, OauthEndpointError, false, &["internal_failure"]),
    f("googleapis/google-api-php-client#2276", Google, 501, JSON,
      r##"{"error": {"code": 501, "status": "UNIMPLEMENTED", "message": "Operation is not implemented, or supported, or enabled."}}"##,
      NONE, OauthEndpointError, false, &["HTTP 501 UNIMPLEMENTED"]),
    f("googleapis/google-auth-library-python#1260 -- the page's end as astrada/google-drive-ocamlfuse#553 shows it, its style shortened", Google, 502, HTML,
      r##"<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 502 (Server Error)!!1</title>
  <style>
    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}
  </style>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>502.</b> <ins>That’s an error.</ins>
  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>
"##, NONE, OauthEndpointError, false, &["HTTP 502", "Error 502 (Server Error)"]),
    f("erebusnz/gapi-google-analytics-php-interface#98", Google, 400, HTML,
      r##"<HTML>
<HEAD>
<TITLE>Error processing OAuth 2 request</TITLE>
</HEAD>
<BODY BGCOLOR="#FFFFFF" TEXT="#000000">
<H1>Error processing OAuth 2 request</H1>
<H2>Error 400</H2>
</BODY>
</HTML>
"##, NONE, OauthEndpointError, false, &["HTTP 400 with an HTML page: Error processing OAuth 2 request"]),
    f("googleapis/google-api-php-client#501", Google, 302, HTML,
      r##"<HTML><HEAD><meta http-equiv="content-type" content="text/html;charset=utf-8">
<TITLE>302 Moved</TITLE></HEAD><BODY>
<H1>302 Moved</H1>
The document has moved
<A HREF="https://ipv4.google.com/sorry/IndexRedirect?continue=https://accounts.google.com/o/oauth2/token&amp;q=CGMSBDb2VRUY9f_hpwUiGQDxp4NLsjiyDjOLAX2me9d7LjLEa_gEXc8">here</A>.
</BODY></HTML>
"##, NONE, OauthEndpointError, false, &["302 Moved"]),
    f("googleapis/google-api-java-client#932 (\"HTTP/1.1 401 Unauthorized\" response with empty body)", Google, 401, None,
      "", NONE, OauthEndpointError, false, &["HTTP 401 with an empty body"]),

    // ---- Microsoft ------------------------------------------------------------------------------
    f("Azure/azure-cli#14244", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2020-02-26T21:52:54.2810613Z and was inactive for 90.00:00:00.\r\nTrace ID: 6e94ade5-10de-4d67-909a-14d845813500\r\nCorrelation ID: 0e87b495-1e24-4882-be85-d012c216f4f6\r\nTimestamp: 2020-07-06 22:31:52Z","error_codes":[700082],"timestamp":"2020-07-06 22:31:52Z","trace_id":"6e94ade5-10de-4d67-909a-14d845813500","correlation_id":"0e87b495-1e24-4882-be85-d012c216f4f6","error_uri":"https://login.microsoftonline.com/error?code=700082"}"##,
      NONE, OauthRefreshTokenExpired, true, &["invalid_grant, AADSTS700082: The refresh token has expired due to inactivity."]),
    f("tarickb/sasl-xoauth2#30 (code=400) -- the report cuts the body after \"was i\": the string and the object closed", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2022-01-03T09:39:41.5631952Z and was i"}"##,
      NONE, OauthRefreshTokenExpired, true, &["AADSTS700082"]),
    f("Azure/azure-sdk-for-python#26729 -- the start of the description as the report's title gives it", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2022-01-07T13:54:01.3194315Z and was inactive for 90.00:00:00.\r\nTrace ID: cccc-cccccc-ccccc-ccc\r\nCorrelation ID: 7dddddd-dddd-ddddd-dddd\r\nTimestamp: 2022-10-10 13:10:01Z","error_codes":[700082],"timestamp":"2022-10-10 13:10:01Z","trace_id":"85b6b9fa-9664-4f28-86c7-f109cda89c00","correlation_id":"749be7b6-a551-44b2-9db3-83eb617c3303","error_uri":"https://login.microsoftonline.com/error?code=700082"}"##,
      NONE, OauthRefreshTokenExpired, true, &["AADSTS700082"]),
    f("simonrob/email-oauth2-proxy#181 (the library's dict written as JSON)", Microsoft, 400, JSON,
      r##"{"error": "invalid_grant", "error_description": "AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on 2023-06-02T14:27:05.8405153Z and the maximum allowed lifetime for this request is 86400.\r\nTrace ID: [redacted]\r\nCorrelation ID: [redacted]\r\nTimestamp: 2023-07-06 13:35:42Z", "error_codes": [70043], "timestamp": "2023-07-06 13:35:42Z", "trace_id": "[redacted]", "correlation_id": "[redacted]", "suberror": "token_expired"}"##,
      NONE, OauthRefreshTokenExpired, true, &["invalid_grant (token_expired), AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access."]),
    f("KelvinTegelaar/CIPP#1156 -- status 400, as Azure/azure-cli#16209 shows for 70043", Microsoft, 400, JSON,
      r##"{"error":"interaction_required","error_description":"AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on 2021-11-10T02:49:07.6225734Z and the maximum allowed lifetime for this request is 3600."}"##,
      NONE, OauthRefreshTokenExpired, true, &["interaction_required, AADSTS70043"]),
    f("AzureAD/microsoft-authentication-library-for-js#7033 -- the report cuts the body in \"suberror\":\"bad: completed as bad_token", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on 2022-04-01T07:29:11.1319999+00:00.\r\nTrace ID: e0ce4356-03da-4b91-99f9-3c8efbad8b01\r\nCorrelation ID: dd0bd01d-ea85-4247-8233-cee2c9e56664\r\nTimestamp: 2022-04-08 11:53:29Z","error_codes":[700084],"timestamp":"2022-04-08 11:53:29Z","trace_id":"e0ce4356-03da-4b91-99f9-3c8efbad8b01","correlation_id":"dd0bd01d-ea85-4247-8233-cee2c9e56664","error_uri":"https://login.microsoftonline.com/error?code=700084","suberror":"bad_token"}"##,
      NONE, OauthRefreshTokenExpired, true, &["AADSTS700084", "single page app (SPA)"]),
    f("snok/django-auth-adfs#245 (the message, from a comment) -- the JSON around it filled in, status 400", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.","error_codes":[70008]}"##,
      NONE, OauthRefreshTokenExpired, true, &["AADSTS70008: The provided authorization code or refresh token has expired due to inactivity."]),
    f("turbot/steampipe-plugin-azure#8", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2020-08-26T13:52:10.1898142Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2021-01-26T21:20:37.0000000Z'.\r\nTrace ID: 62ae314d-d6be-4854-ab2d-1e19ac971300\r\nCorrelation ID: 5d919732-f206-4ed5-b6f9-1d6798276b37\r\nTimestamp: 2021-01-26 23:28:38Z","error_codes":[50173],"timestamp":"2021-01-26 23:28:38Z","trace_id":"62ae314d-d6be-4854-ab2d-1e19ac971300","correlation_id":"5d919732-f206-4ed5-b6f9-1d6798276b37","error_uri":"https://login.microsoftonline.com/error?code=50173"}"##,
      NONE, OauthRefreshTokenRevoked, true, &["AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed."]),
    // No error_codes: the code comes from error_uri.
    f("microsoft/azure-tools-for-java#4521 (adal4j)", Microsoft, 400, JSON,
      r##"{"error_description":"AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2020-05-18T07:22:34.0560000Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2020-06-05T11:20:59.0000000Z'.\r\nTrace ID: 54674c13-8e25-4e26-9477-d33e5beab400\r\nCorrelation ID: 2db77dbd-5dca-4842-b26f-5fec4564c60d\r\nTimestamp: 2020-07-28 19:06:51Z","error":"invalid_grant","error_uri":"https:\/\/login.microsoftonline.com\/error?code=50173"}"##,
      NONE, OauthRefreshTokenRevoked, true, &["AADSTS50173"]),
    f("QuePort/passport-azure-oauth#6 (status 400)", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS70002: Error validating credentials. AADSTS70000: The provided access grant is invalid or malformed.\r\nTrace ID: 8ccfdad7-7856-498c-82fa-88e6d5b40fee\r\nCorrelation ID: c7f33b6a-5683-4fff-be74-ffba44a27abc\r\nTimestamp: 2014-08-27 12:08:46Z","error_codes":[70002,70000],"timestamp":"2014-08-27 12:08:46Z","trace_id":"8ccfdad7-7856-498c-82fa-88e6d5b40fee","correlation_id":"c7f33b6a-5683-4fff-be74-ffba44a27abc"}"##,
      NONE, OauthRefreshTokenRevoked, true, &["AADSTS70002/AADSTS70000"]),
    f("AzureAD/microsoft-authentication-library-for-android#558 (the library's dict written as JSON) -- status 400, as the report's other bodies of this error", Microsoft, 400, JSON,
      r##"{"correlation_id": "6678c42e-6935-4f53-86e9-f00f5a31f8c2", "error": "invalid_grant", "error_codes": [9002313], "error_description": "AADSTS9002313: Invalid request. Request is malformed or invalid.\r\nTrace ID: db3676d4-5d5d-4104-96c9-f3fd92d01300\r\nCorrelation ID: 6678c42e-6935-4f53-86e9-f00f5a31f8c2\r\nTimestamp: 2019-06-04 10:06:54Z", "timestamp": "2019-06-04 10:06:54Z", "trace_id": "db3676d4-5d5d-4104-96c9-f3fd92d01300"}"##,
      NONE, OauthRefreshTokenRevoked, true, &["AADSTS9002313: Invalid request."]),
    f("MicrosoftDocs/azure-docs#39189 -- status 400, as O365/python-o365#323 shows for a refresh", Microsoft, 400, JSON,
      r##"{
    "error": "invalid_grant",
    "error_description": "AADSTS65001: The user or administrator has not consented to use the application with ID '5617d05d-fdc6-4c56-b1dc-38b8576cfafd' named 'AzureADBlob'. Send an interactive authorization request for this user and resource.\r\nTrace ID: 7979ed8a-3959-4be5-9206-ce16f12a5900\r\nCorrelation ID: 73d7243c-43ba-4d8a-865a-0b8957def6c6\r\nTimestamp: 2019-09-19 08:55:37Z",
    "error_codes": [
        65001
    ],
    "timestamp": "2019-09-19 08:55:37Z",
    "trace_id": "7979ed8a-3959-4be5-9206-ce16f12a5900",
    "correlation_id": "73d7243c-43ba-4d8a-865a-0b8957def6c6",
    "suberror": "consent_required"
}"##, NONE, OauthConsentRequired, true, &["invalid_grant (consent_required), AADSTS65001"]),
    f("vcheckzen/FODI#23 -- status 401, as liprec/vsts-release-aas#119 shows for this error", Microsoft, 401, JSON,
      r##"{ "error": "invalid_client", "error_description": "AADSTS7000222: The provided client secret keys are expired. Visit the Azure Portal to create new keys for your app, or consider using certificate credentials for added security: https:\/\/docs.microsoft.com\/azure\/active-directory\/develop\/active-directory-certificate-credentials\r\nTrace ID: 3427eb4d-866e-4a3c-9048-6ab375960e00\r\nCorrelation ID: 0aa7c9ea-5677-4024-b0ce-2ff6d5fe5cfa\r\nTimestamp: 2020-09-04 13:52:05Z", "error_codes": [ 7000222 ], "timestamp": "2020-09-04 13:52:05Z", "trace_id": "3427eb4d-866e-4a3c-9048-6ab375960e00", "correlation_id": "0aa7c9ea-5677-4024-b0ce-2ff6d5fe5cfa", "error_uri": "https:\/\/login.microsoftonline.com\/error?code=7000222" }"##,
      NONE, OauthClientSecretExpired, true, &["invalid_client, AADSTS7000222: The provided client secret keys are expired."]),
    f("Azure/sap-automation#418 (HTTP status 401)", Microsoft, 401, JSON,
      r##"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '4d856d1f-8648-456c-9bb2-f36273bbe4e3'.\r\nTrace ID: 6bad8289-db4a-49da-8609-0848d8d71700\r\nCorrelation ID: 63b8bb61-5ca6-4ae3-8224-15a4de11cd87\r\nTimestamp: 2023-02-20 07:21:29Z","error_codes":[7000215],"timestamp":"2023-02-20 07:21:29Z","trace_id":"6bad8289-db4a-49da-8609-0848d8d71700","correlation_id":"63b8bb61-5ca6-4ae3-8224-15a4de11cd87","error_uri":"https://login.microsoftonline.com/error?code=7000215"}"##,
      NONE, OauthInvalidClient, true, &["AADSTS7000215: Invalid client secret provided."]),
    f("Azure/go-autorest#626 (Status Code = '400')", Microsoft, 400, JSON,
      r##"{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'xxxxxxxx-xxxx-44cc-b423-dd3cd793450e' was not found in the directory 'xxxxxxxx-xxxx-41af-91ab-2d7cd011db47'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.\r\nTrace ID: xxxxxxxx-xxxx-40c1-8010-4c91fa59c500\r\nCorrelation ID: xxxxxxxx-xxxx-464b-8f91-8e9545f8e1ec\r\nTimestamp: 2021-04-13 18:17:47Z","error_codes":[700016],"timestamp":"2021-04-13 18:17:47Z","trace_id":"xxxxxxxx-xxxx-40c1-8010-4c91fa59c500","correlation_id":"xxxxxxx-xxxx-464b-8f91-8e9545f8e1ec","error_uri":"https://login.windows.net/error?code=700016"}"##,
      NONE, OauthInvalidClient, true, &["unauthorized_client, AADSTS700016"]),
    f("haystackeditor/haystack-editor#41 -- status 401, as tamhinsf/ChannelSurf#38 shows for this error", Microsoft, 401, JSON,
      r##"{"error":"invalid_client",
"error_description":"AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Trace ID: 6ee9ec92-6726-422a-85ce-86a1a6502800 Correlation ID: 521b9148-40bc-455a-ace1-c13802e053eb Timestamp: 2024-12-03 13:51:30Z",
"error_codes":[7000218],
"timestamp":"2024-12-03 13:51:30Z",
"trace_id":"6ee9ec92-6726-422a-85ce-86a1a6502800",
"correlation_id":"521b9148-40bc-455a-ace1-c13802e053eb",
"error_uri":"https://login.microsoftonline.com/error?code=7000218"}"##,
      NONE, ConfigError, true, &["AADSTS7000218"]),
    f("ahaenggli/AzureAD-LDAP-wrapper#10 (http error: 400; the report's OCR slips corrected)", Microsoft, 400, JSON,
      r##"{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '797f4846-ba00-4fd7-ba43-dac1f8f63013'.\r\nTrace ID: 9eb381ba-429d-45ce-bdc4-74f66b235500\r\nCorrelation ID: a32d7f75-3130-404e-a68c-9b127d9f2eed\r\nTimestamp: 2021-11-18 10:00:50Z","error_codes":[50076],"timestamp":"2021-11-18 10:00:50Z","trace_id":"9eb381ba-429d-45ce-bdc4-74f66b235500","correlation_id":"a32d7f75-3130-404e-a68c-9b127d9f2eed"}"##,
      NONE, AuthMfaRequired, true, &["interaction_required, AADSTS50076", "[id]"]),
    f("Azure/api-management-developer-portal#1310 (http error: 400)", Microsoft, 400, JSON,
      r##"{"error":"interaction_required","error_description":"AADSTS50078: Presented multi-factor authentication has expired due to policies configured by your administrator, you must refresh your multi-factor authentication to access '797f4846-ba00-4fd7-XXXXXXXXXXXXXXX'.\r\nTrace ID: 66ceeed6-c158-4dcc-b4ed-b139f06a1600\r\nCorrelation ID: c5433cf4-3e78-4934-8706-da69c15ee849\r\nTimestamp: 2021-05-18 13:45:56Z","error_codes":[50078],"timestamp":"2021-05-18 13:45:56Z","trace_id":"66ceeed6-c158-4dcc-b4ed-b139f06a1600","correlation_id":"c5433cf4-3e78-4934-8706-da69c15ee849","suberror":"basic_action"}"##,
      NONE, AuthMfaRequired, true, &["interaction_required (basic_action), AADSTS50078"]),
    f("AzureAD/azure-activedirectory-library-for-nodejs#151 (http error: 400)", Microsoft, 400, JSON,
      r##"{
    "error": "interaction_required",
    "error_description": "AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.\r\nTrace ID: 5058bf6a-b266-444a-bf5f-a68724b53600\r\nCorrelation ID: b6a65466-04dc-4929-89b4-6ac81e5b31f1\r\nTimestamp: 2017-03-22 01:47:49Z",
    "error_codes": [50079],
    "timestamp": "2017-03-22 01:47:49Z",
    "trace_id": "5058bf6a-b266-444a-bf5f-a68724b53600",
    "correlation_id": "b6a65466-04dc-4929-89b4-6ac81e5b31f1",
    "claims": "{\"access_token\":{\"polids\":{\"essential\":true,\"Values\":[\"bd8d9305-ee44-4c9e-87a9-45bc878db6e1\"]}}}"
}"##, NONE, AuthMfaRequired, true, &["AADSTS50079"]),
    f("Azure/azure-kusto-python#89 (http error: 400)", Microsoft, 400, JSON,
      r##"{"error":"interaction_required","error_description":"AADSTS50079: The user is required to use multi-factor authentication.\r\nTrace ID: 8d4704cf-5c83-42bb-860b-7a2180d1fa00\r\nCorrelation ID: 87014a28-6bc1-4413-8592-ec1aac63646e\r\nTimestamp: 2018-12-31 20:57:33Z","error_codes":[50079],"timestamp":"2018-12-31 20:57:33Z","trace_id":"8d4704cf-5c83-42bb-860b-7a2180d1fa00","correlation_id":"87014a28-6bc1-4413-8592-ec1aac63646e","suberror":"basic_action"}"##,
      NONE, AuthMfaRequired, true, &["AADSTS50079: The user is required to use multi-factor authentication."]),
    f("MartinIngesen/MSOLSpray#5 -- status 400, as the token endpoint sends interaction_required", Microsoft, 400, JSON,
      r##"{"error":"interaction_required","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.\r\nTrace ID: 36a9bfd2-0233-4b3b-b947-5ed41fa7a600\r\nCorrelation ID: 85b60f58-62ff-4d26-b249-6a0229ba280e\r\nTimestamp: 2023-05-29 05:46:34Z","error_codes":[53003],"timestamp":"2023-05-29 05:46:34Z","trace_id":"36a9bfd2-0233-4b3b-b947-5ed41fa7a600","correlation_id":"85b60f58-62ff-4d26-b249-6a0229ba280e","error_uri":"https://login.microsoft.com/error?code=53003","suberror":"message_only"}"##,
      NONE, AuthConditionalAccessBlocked, true, &["AADSTS53003: Access has been blocked by Conditional Access policies."]),
    f("OfficeDev/BotBuilder-MicrosoftTeams#284 -- the report cuts the body in error_uri: completed; status 400", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance. Trace ID: 16e97462-d90d-4923-bc74-18a689b50700 Correlation ID: f5d6644e-c73a-4bc7-8cee-8335e95c98d5 Timestamp: 2025-03-01 05:34:27Z","error_codes":[53003],"timestamp":"2025-03-01 05:34:27Z","trace_id":"16e97462-d90d-4923-bc74-18a689b50700","correlation_id":"f5d6644e-c73a-4bc7-8cee-8335e95c98d5","error_uri":"https://login.microsoftonline.com/error?code=53003"}"##,
      NONE, AuthConditionalAccessBlocked, true, &["invalid_grant, AADSTS53003"]),
    f("wkh237/react-native-azure-ad#43 (Error Code: interaction_required, and the message) -- the JSON around them and status 400 filled in", Microsoft, 400, JSON,
      r##"{"error":"interaction_required","error_description":"AADSTS53000: Your device is required to be managed to access this resource."}"##,
      NONE, AuthConditionalAccessBlocked, true, &["AADSTS53000"]),
    f("Azure/azure-cli#18647 (http error: 400)", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password.\r\nTrace ID: a287413d-c526-4d4a-a6eb-ac9108b03000\r\nCorrelation ID: 7f85270a-1b07-401e-b684-a19533c1b5ea\r\nTimestamp: 2021-06-25 13:16:19Z","error_codes":[50126],"timestamp":"2021-06-25 13:16:19Z","trace_id":"a287413d-c526-4d4a-a6eb-ac9108b03000","correlation_id":"7f85270a-1b07-401e-b684-a19533c1b5ea","error_uri":"https://login.microsoftonline.com/error?code=50126"}"##,
      NONE, AuthBadCredentials, true, &["AADSTS50126"]),
    f("spencerwooo/onedrive-cf-index#100 -- status 400, as laravel/socialite#315 shows for this error", Microsoft, 400, JSON,
      r##"{
  "error": "invalid_scope",
  "error_description": "AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope 'offline_access$20Files.Read Files.Read.All' does not exist.\r\nTrace ID: 405cf278-c93a-461b-a7cd-c1ebaba23f00\r\nCorrelation ID: f814c053-4336-4622-b75a-547b38b77d34\r\nTimestamp: 2021-02-15 12:09:58Z",
  "error_codes": [
    70011
  ],
  "timestamp": "2021-02-15 12:09:58Z",
  "trace_id": "405cf278-c93a-461b-a7cd-c1ebaba23f00",
  "correlation_id": "f814c053-4336-4622-b75a-547b38b77d34"
}"##, NONE, ConfigError, true, &["invalid_scope, AADSTS70011"]),
    f("MicrosoftDocs/azure-docs#43780 -- status 400", Microsoft, 400, JSON,
      r##"{"error":"invalid_request","error_description":"AADSTS900144: The request body must contain the following parameter: 'grant_type'.\r\nTrace ID: 8d24319a-7b99-4a9b-9134-e1e92fa52901\r\nCorrelation ID: f669e3e6-57ee-4725-baab-186cb844e7bd\r\nTimestamp: 2019-11-29 06:39:27Z","error_codes":[900144],"timestamp":"2019-11-29 06:39:27Z","trace_id":"8d24319a-7b99-4a9b-9134-e1e92fa52901","correlation_id":"f669e3e6-57ee-4725-baab-186cb844e7bd","error_uri":"https://login.microsoftonline.com/error?code=900144"}"##,
      NONE, ConfigError, true, &["invalid_request, AADSTS900144"]),
    f("AzureAD/microsoft-authentication-library-for-js#237 (the message and \"invalid_request\") -- the JSON around them and status 400 filled in", Microsoft, 400, JSON,
      r##"{"error":"invalid_request","error_description":"AADSTS90130: Application '<application_id>' (Test) is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.\r\nTrace ID: <Trace ID>\r\nCorrelation ID: <Correlation ID>\r\nTimestamp: 2018-01-30 11:31:01Z"}"##,
      NONE, ConfigError, true, &["AADSTS90130"]),
    f("Microsoft365DSC/MSCloudLoginAssistant#100 (the inner message) -- the JSON around it and status 400 filled in", Microsoft, 400, JSON,
      r##"{"error":"invalid_request","error_description":"AADSTS9001023: The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.\r\nTrace ID: e5e4bd53-1262-4031-89fc-4ea82cc14200\r\nCorrelation ID: eb0bb5eb-f41c-42e7-ac05-bd3c5017780b\r\nTimestamp: 2021-02-22 13:58:36Z"}"##,
      NONE, ConfigError, true, &["AADSTS9001023"]),
    f("AzureAD/MSAL.PS#10 (the message) -- the JSON around it filled in, error_codes as Microsoft sends them, status 400", Microsoft, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"AADSTS50196: The server terminated an operation because it encountered a client request loop. Please contact your app vendor. Trace ID: 46e48f1f-ecfc-4b82-90a1-10b591f2a500 Correlation ID: c52d4881-e115-4a02-be39-9e46686e47fc Timestamp: 2020-06-17 07:52:06Z","error_codes":[50196]}"##,
      NONE, RateLimited, false, &["AADSTS50196"]),

    // ---- Other RFC 6749 servers, proxies and load balancers -------------------------------------
    f("RFC 6749 §5.2 (the example response)", Generic, 400, JSON,
      r##"{
  "error":"invalid_request"
}"##, NONE, ConfigError, true, &["HTTP 400 invalid_request"]),
    f("keycloak/keycloak#39266 (Keycloak)", Generic, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"Token is not active"}"##,
      NONE, OauthRefreshTokenRevoked, true, &["invalid_grant: Token is not active"]),
    f("marcospereirampj/python-keycloak#99 (the same answer for a token that timed out)", Generic, 400, JSON,
      r##"{"error":"invalid_grant","error_description":"Token is not active"}"##,
      PASSED, OauthRefreshTokenExpired, true, &["Token is not active"]),
    f("Nanocloud/nanocloud#59", Generic, 403, JSON,
      r##"{"error":"invalid_grant","error_description":"Invalid refresh token"}"##,
      NONE, OauthRefreshTokenRevoked, true, &["Invalid refresh token"]),
    // Keycloak answers 500 with invalid_grant when it lost a session it still has on disk; a
    // retry succeeds.
    f("keycloak/keycloak#27384 (\"keycloak returns http 500 with message [invalid_grant] Session doesn't have required client\") -- the JSON around it filled in", Generic, 500, JSON,
      r##"{"error":"invalid_grant","error_description":"Session doesn't have required client"}"##,
      NONE, OauthEndpointError, false, &["HTTP 500 invalid_grant: Session doesn't have required client"]),
    f("planningcenter/developers#674 -- status 401", Generic, 401, JSON,
      r##"{"error":"invalid_client","error_description":"Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}"##,
      NONE, OauthInvalidClient, true, &["invalid_client: Client authentication failed"]),
    f("wso2/api-manager#5070 (WSO2 API Manager) -- status 401", Generic, 401, JSON,
      r##"{
"error_description": "A valid OAuth client could not be found for client_id: xxxxywQQ2xxx40TRYa",
"error": "invalid_client"
}"##, NONE, OauthInvalidClient, true, &["invalid_client"]),
    f("aaronhuggins/sf-jwt-token#1 (Salesforce, 400)", Generic, 400, JSON,
      r##"{"error":"unsupported_grant_type","error_description":"grant type not supported"}"##,
      NONE, ConfigError, true, &["unsupported_grant_type: grant type not supported"]),
    f("MicrosoftDocs/azure-docs#49743 (Azure AD B2C) -- status 400", Generic, 400, JSON,
      r##"{
    "error": "unsupported_grant_type",
    "error_description": "AADB2C90086: The supplied grant_type [authorization_code\r\n] is not supported.\r\nCorrelation ID: 802cba29-bb35-4de8-b84d-08087f266bda\r\nTimestamp: 2020-03-08 15:24:36Z\r\n"
}"##, NONE, ConfigError, true, &["unsupported_grant_type"]),
    f("Automattic/wordpress-activitypub#3236 (\"use 429 with a rate_limited error code\") -- the JSON around it filled in", Generic, 429, JSON,
      r##"{"error":"rate_limited"}"##, NONE, RateLimited, false, &["HTTP 429 rate_limited"]),
    f("ginlix-ai/LangAlpha#379 (\"Actual Response: 429 Too Many Requests\") -- no body shown", Generic, 429, None,
      "", NONE, RateLimited, false, &["HTTP 429"]),
    f("etsy/open-api#549", Generic, 500, JSON,
      "{\"error\":\"Server Error\"}\n", NONE, OauthEndpointError, false, &["HTTP 500 Server Error"]),
    f("ccpgames/sso-issues#58 (EVE Online SSO)", Generic, 500, JSON,
      r##"{"Message":"An error has occurred."}"##, NONE, OauthEndpointError, false, &["HTTP 500"]),
    f("ruckus/quickbooks-ruby#423", Generic, 502, HTML,
      r##"<html>
  <head><title>502 Bad Gateway</title></head>
  <body bgcolor="white">
    <center><h1>502 Bad Gateway</h1></center>
    <hr><center>nginx</center>
  </body>
</html>
"##, NONE, OauthEndpointError, false, &["HTTP 502 with an HTML page: 502 Bad Gateway"]),
    f("CesiumGS/cesium-ion-rest-api-examples#270 (nginx/1.14.1)", Generic, 502, None,
      r##"<html>
<head><title>502 Bad Gateway</title></head>
<body bgcolor="white">
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.14.1</center>
</body>
</html>"##, NONE, OauthEndpointError, false, &["502 Bad Gateway"]),
];
