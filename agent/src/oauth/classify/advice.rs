//! What a person must do about one case, where the case says more than its reason: the
//! provider's setting to change, in English and Japanese.
//!
//! Where a case has no entry the reason's own text applies (`mailbeat_sdk::remediation`). Texts
//! name the target as `TARGET` ([`mailbeat_sdk::remediation::TARGET_PLACEHOLDER`]) in
//! `mailbeat reauth TARGET` and in the status page's re-authorize link `/reauth/TARGET`, and
//! keep commands, settings and URLs the same in both languages.

use super::Case;
use mailbeat_sdk::Locale;

/// The case's remediation in `locale`, if it has its own.
pub(super) fn of(case: Case, locale: Locale) -> Option<&'static str> {
    let (en, ja) = text(case)?;
    Some(match locale {
        Locale::En => en,
        Locale::Ja => ja,
    })
}

/// The English and Japanese texts of a case.
pub(super) fn text(case: Case) -> Option<(&'static str, &'static str)> {
    use Case::*;
    Some(match case {
        // ---- lifetimes ----
        GoogleTesting => (
            "Google expired the refresh token: while the OAuth app's publishing status is \
             \"Testing\", Google ends its refresh tokens 7 days after they are issued. Run \
             `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET). To end the weekly re-authorization, publish the app: Google Cloud \
             console → Google Auth Platform → Audience (formerly OAuth consent screen) → Publish \
             app, so that its status reads \"In production\"; then remove \
             `refresh_token_lifetime` from the account.",
            "Google がリフレッシュ トークンを失効させました。OAuth アプリの公開ステータスが「テスト」の\
             あいだ、Google はリフレッシュ トークンを発行から 7 日で失効させます。`mailbeat reauth TARGET` を\
             実行するか、ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。毎週の\
             再認可をなくすには、Google Cloud コンソール →「Google Auth Platform」→「対象」（旧「OAuth \
             同意画面」）→「アプリを公開」でステータスを「本番環境」にし、アカウントから \
             `refresh_token_lifetime` を削除してください。",
        ),
        GooglePredicted => (
            "The Google refresh token ended when mailbeat predicted it would: Google expires a \
             refresh token that has not been used for 6 months, and those of an app in \
             \"Testing\" after 7 days. Run `mailbeat reauth TARGET` or open the re-authorize link \
             on the status page (/reauth/TARGET). Keep the `token` probe enabled for this account: \
             it refreshes the token at least once per its refresh interval, so the new one never \
             goes unused for months.",
            "Google のリフレッシュ トークンが、mailbeat の予測どおりに失効しました。Google は 6 か月間\
             使われなかったリフレッシュ トークンを失効させ、「テスト」のアプリのものは 7 日で失効させます。\
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。このアカウントでは `token` プローブを有効にしておいてください。更新間隔ごとに\
             少なくとも一度トークンを更新するため、新しいトークンが何か月も使われないままになることは\
             ありません。",
        ),
        GoogleSessionControl => (
            "A Google Workspace session control policy requires this user to sign in again \
             (invalid_rapt): the admin has set how often apps must re-authenticate. Run \
             `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET). So that it does not recur, a Workspace admin can set, in the Admin \
             console → Security → Access and data control → Google Cloud session control, the \
             reauthentication policy to \"Never require reauthentication\" for this user's \
             organizational unit, or check \"Exempt trusted apps\" and trust this app in API \
             controls.",
            "Google Workspace のセッション管理ポリシーにより、このユーザーは再度サインインする必要があります\
             （invalid_rapt）。管理者が、アプリに再認証を求める頻度を設定しています。`mailbeat reauth TARGET` \
             を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。再発を\
             防ぐには、Workspace の管理者が管理コンソール →「セキュリティ」→「アクセスとデータ管理」→\
             「Google Cloud のセッション管理」で、このユーザーの組織部門の再認証ポリシーを「再認証を必要と\
             しない」にするか、「信頼できるアプリを除外する」をオンにして「API の制御」でこのアプリを\
             信頼済みにしてください。",
        ),
        MsInactive => (
            "The Microsoft refresh token expired after 90 days without use (AADSTS700082). Run \
             `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET). mailbeat keeps a token alive by refreshing it well within the 90 \
             days (the `token` probe's refresh interval) and storing the new refresh token \
             Microsoft returns each time, so keep the `token` probe enabled for this account and \
             the token will not lapse again.",
            "Microsoft のリフレッシュ トークンが、90 日間使われなかったため失効しました（AADSTS700082）。\
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。mailbeat は 90 日より十分短い間隔（`token` プローブの更新間隔）でトークンを\
             更新し、そのたびに Microsoft が返す新しいリフレッシュ トークンを保存します。このアカウントで \
             `token` プローブを有効にしておけば、再び失効することはありません。",
        ),
        MsExpired => (
            "Microsoft no longer accepts the refresh token: it went unused for too long or is \
             older than a token lifetime policy allows. Run `mailbeat reauth TARGET` or open the \
             re-authorize link on the status page (/reauth/TARGET), and keep the `token` probe \
             enabled for this account, so that the token is refreshed, and its replacement \
             stored, long before 90 days pass.",
            "Microsoft がリフレッシュ トークンを受け付けなくなりました。長期間使われなかったか、トークンの\
             有効期間ポリシーが認める期間を過ぎています。`mailbeat reauth TARGET` を実行するか、ステータス\
             ページの再認可リンク（/reauth/TARGET）から再認可し、このアカウントで `token` プローブを有効に\
             しておいてください。90 日よりずっと前にトークンが更新され、新しいトークンが保存されます。",
        ),
        MsSpaLifetime => (
            "The app is registered as a single-page application, whose refresh tokens Microsoft \
             limits to 24 hours that cannot be extended (AADSTS700084). In Microsoft Entra admin \
             center → App registrations → the app → Authentication, remove the Single-page \
             application platform and add \"Mobile and desktop applications\" with the redirect \
             URI http://localhost; then run `mailbeat reauth TARGET` or open the re-authorize \
             link on the status page (/reauth/TARGET).",
            "アプリがシングルページ アプリケーションとして登録されています。その場合、Microsoft はリフレッシュ \
             トークンの有効期間を延長できない 24 時間に制限します（AADSTS700084）。Microsoft Entra \
             管理センター →「アプリの登録」→ 対象のアプリ →「認証」で「シングルページ アプリケーション」の\
             プラットフォームを削除し、「モバイル アプリケーションとデスクトップ アプリケーション」を\
             リダイレクト URI http://localhost で追加してから、`mailbeat reauth TARGET` を実行するか、\
             ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。",
        ),
        MsSignInFrequency => (
            "A Conditional Access sign-in frequency limits how long this user's sign-in lasts, and \
             the refresh token has reached it (AADSTS70043). Run `mailbeat reauth TARGET` or open \
             the re-authorize link on the status page (/reauth/TARGET). It will recur on the same \
             schedule: in Microsoft Entra admin center → Protection → Conditional Access, find the \
             policy whose Session → Sign-in frequency applies to this user (the failed sign-in's \
             Conditional Access tab in the sign-in logs names it) and exclude this account or \
             lengthen the frequency, or set `refresh_token_lifetime` to that frequency so that \
             mailbeat warns before each end.",
            "条件付きアクセスのサインインの頻度により、このユーザーのサインインの有効期間が制限されており、\
             リフレッシュ トークンがその期限に達しました（AADSTS70043）。`mailbeat reauth TARGET` を実行するか、\
             ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。同じ周期で再発します。\
             Microsoft Entra 管理センター →「保護」→「条件付きアクセス」で、このユーザーに「セッション」→\
             「サインインの頻度」を適用しているポリシー（サインイン ログで失敗したサインインの「条件付き\
             アクセス」タブに表示されます）を探し、このアカウントを除外するか頻度を長くしてください。または \
             `refresh_token_lifetime` をその頻度に設定すると、期限が来る前に mailbeat が警告します。",
        ),

        // ---- revoked ----
        GoogleRevoked => (
            "Google revoked the refresh token before its predicted end. Google does so when the \
             account's password changes (for tokens with Gmail scopes), when access is removed at \
             https://myaccount.google.com/permissions or by a Workspace admin, and without notice \
             when the account holds more than 100 refresh tokens for this OAuth client, the oldest \
             going first: do not authorize the same client from many devices or scripts. Run \
             `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET). If it happens about 7 days after each authorization, the app is in \
             \"Testing\": publish it (Google Cloud console → Google Auth Platform → Audience → \
             Publish app).",
            "Google が、予測された期限より前にリフレッシュ トークンを取り消しました。Google は、アカウントの\
             パスワードが変更されたとき（Gmail のスコープを持つトークン）、https://myaccount.google.com/permissions \
             や Workspace の管理者がアクセス権を削除したとき、そして 1 つの OAuth クライアントについて\
             アカウントのリフレッシュ トークンが 100 個を超えたとき（古いものから通知なしに）トークンを\
             取り消します。同じクライアントを多数のデバイスやスクリプトから認可しないでください。\
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。認可のたびに約 7 日で起きる場合、アプリは「テスト」状態です。Google Cloud \
             コンソール →「Google Auth Platform」→「対象」→「アプリを公開」で公開してください。",
        ),
        MsRevoked => (
            "Microsoft revoked the refresh token (AADSTS50173): the user's password was changed \
             or reset, or an admin revoked the user's sessions (Microsoft Entra admin center → \
             Users → the user → Revoke sessions). Run `mailbeat reauth TARGET` or open the \
             re-authorize link on the status page (/reauth/TARGET), and do so again after every \
             password change of this account.",
            "Microsoft がリフレッシュ トークンを取り消しました（AADSTS50173）。ユーザーのパスワードが変更または\
             リセットされたか、管理者がユーザーのセッションを取り消しています（Microsoft Entra 管理センター →\
             「ユーザー」→ 対象ユーザー →「セッションの取り消し」）。`mailbeat reauth TARGET` を実行するか、\
             ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。このアカウントの\
             パスワードを変更したときは、そのたびに再認可が必要です。",
        ),
        MsGrantInvalid => (
            "Microsoft no longer accepts the stored refresh token: it is invalid, malformed or \
             was revoked. Run `mailbeat reauth TARGET` or open the re-authorize link on the status \
             page (/reauth/TARGET). If the token came from `refresh_token_file` or `mailbeat token \
             import`, check that it was copied whole and was issued to this `client_id` and \
             `tenant`.",
            "Microsoft が、保存されているリフレッシュ トークンを受け付けなくなりました。トークンが無効か、\
             形式が壊れているか、取り消されています。`mailbeat reauth TARGET` を実行するか、ステータスページの\
             再認可リンク（/reauth/TARGET）から再認可してください。トークンを `refresh_token_file` や \
             `mailbeat token import` で取り込んだ場合は、欠けずにコピーされているか、この `client_id` と \
             `tenant` に対して発行されたものかを確認してください。",
        ),
        InteractionRequired => (
            "The identity provider wants this user to sign in interactively before it issues more \
             tokens (for example for multi-factor authentication, a changed policy or new \
             consent). Run `mailbeat reauth TARGET` or open the re-authorize link on the status \
             page (/reauth/TARGET) and complete the sign-in in the browser.",
            "ID プロバイダは、トークンを発行する前にこのユーザーが対話的にサインインすることを求めています\
             （多要素認証、ポリシーの変更、新たな同意など）。`mailbeat reauth TARGET` を実行するか、ステータス\
             ページの再認可リンク（/reauth/TARGET）を開き、ブラウザでサインインを完了してください。",
        ),

        // ---- consent ----
        GoogleAdminPolicy => (
            "A Google Workspace policy does not allow this app to access the account \
             (admin_policy_enforced). A Workspace admin must trust it: Admin console → Security → \
             Access and data control → API controls → Manage third-party app access → Configure \
             new app, find it by its OAuth client ID and choose \"Trusted\". (An account in the \
             Advanced Protection Program accepts only apps Google has verified.) Then run \
             `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET).",
            "Google Workspace のポリシーにより、このアプリはアカウントにアクセスできません\
             （admin_policy_enforced）。Workspace の管理者がアプリを信頼済みにする必要があります。管理\
             コンソール →「セキュリティ」→「アクセスとデータ管理」→「API の制御」→「サードパーティ製アプリの\
             アクセスを管理」→「新しいアプリを設定」で OAuth クライアント ID からアプリを探し、「信頼できる」を\
             選んでください（高度な保護機能プログラムに登録したアカウントは、Google が確認したアプリしか\
             受け付けません）。その後 `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク\
             （/reauth/TARGET）から再認可してください。",
        ),
        MsConsent => (
            "The user or an administrator has not consented to the app's permissions \
             (AADSTS65001). The app needs the delegated permissions IMAP.AccessAsUser.All, \
             POP.AccessAsUser.All or SMTP.Send and offline_access; an admin can consent for the \
             whole tenant in Microsoft Entra admin center → App registrations → the app → API \
             permissions → Grant admin consent. Then run `mailbeat reauth TARGET` or open the \
             re-authorize link on the status page (/reauth/TARGET), signing in as this target's \
             user.",
            "ユーザーまたは管理者が、アプリのアクセス許可に同意していません（AADSTS65001）。アプリには委任された\
             アクセス許可 IMAP.AccessAsUser.All、POP.AccessAsUser.All または SMTP.Send と offline_access が\
             必要です。管理者は Microsoft Entra 管理センター →「アプリの登録」→ 対象のアプリ →「API の\
             アクセス許可」→「管理者の同意を与えます」でテナント全体の同意を付与できます。その後 \
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）を開き、\
             このターゲットのユーザーでサインインしてください。",
        ),

        // ---- the client ----
        MsSecretExpired => (
            "The app's client secret has expired (AADSTS7000222). In Microsoft Entra admin center \
             → App registrations → the app → Certificates & secrets → New client secret, copy \
             the new secret's Value (not its Secret ID) into the account's `client_secret_file` \
             and reload mailbeat; the stored refresh token works again with it. Only if the check \
             still fails, run `mailbeat reauth TARGET` or open the re-authorize link on the status \
             page (/reauth/TARGET). Secrets last at most 24 months: note the new expiry date.",
            "アプリのクライアント シークレットの有効期限が切れています（AADSTS7000222）。Microsoft Entra 管理\
             センター →「アプリの登録」→ 対象のアプリ →「証明書とシークレット」→「新しいクライアント \
             シークレット」で作成し、その「値」（「シークレット ID」ではありません）をアカウントの \
             `client_secret_file` に書き込んで mailbeat をリロードしてください。保存済みのリフレッシュ トークンは\
             そのまま使えます。それでもチェックが失敗する場合に限り、`mailbeat reauth TARGET` を実行するか、\
             ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。シークレットの有効期間は\
             最長 24 か月なので、新しい有効期限を控えておいてください。",
        ),
        MsSecretInvalid => (
            "Microsoft refused the client secret (AADSTS7000215): `client_secret_file` must hold \
             the secret's Value, shown only once when it is created, not its Secret ID, and the \
             secret must belong to this `client_id`. Create a new one in Microsoft Entra admin \
             center → App registrations → the app → Certificates & secrets if the Value is lost, \
             and reload mailbeat. If the app itself was replaced, run `mailbeat reauth TARGET` or \
             open the re-authorize link on the status page (/reauth/TARGET).",
            "Microsoft がクライアント シークレットを拒否しました（AADSTS7000215）。`client_secret_file` には、\
             作成時に一度だけ表示されるシークレットの「値」（「シークレット ID」ではありません）が入っている\
             必要があり、そのシークレットはこの `client_id` のものでなければなりません。値が分からない場合は \
             Microsoft Entra 管理センター →「アプリの登録」→ 対象のアプリ →「証明書とシークレット」で新しく\
             作成し、mailbeat をリロードしてください。アプリ自体を作り直した場合は、`mailbeat reauth TARGET` を\
             実行するか、ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。",
        ),
        MsAppNotFound => (
            "Microsoft found no app with this `client_id` in the tenant the request went to \
             (AADSTS700016). Check in Microsoft Entra admin center → App registrations that \
             `client_id` is the app's Application (client) ID, and that the account's `tenant` is \
             the app's tenant (or `organizations` or `common` for a multitenant app). If the app was \
             deleted and registered anew, run `mailbeat reauth TARGET` or open the re-authorize \
             link on the status page (/reauth/TARGET).",
            "要求先のテナントに、この `client_id` のアプリが見つかりません（AADSTS700016）。Microsoft Entra \
             管理センターの「アプリの登録」で、`client_id` がアプリの「アプリケーション (クライアント) ID」で\
             あること、アカウントの `tenant` がアプリのテナント（マルチテナントのアプリなら \
             `organizations` または `common`）であることを確認してください。アプリを削除して登録し直した\
             場合は、`mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）\
             から再認可してください。",
        ),
        GoogleClientNotFound => (
            "Google does not know this OAuth client (\"The OAuth client was not found.\"). In \
             Google Cloud console → Google Auth Platform → Clients, check that the client still \
             exists and that `client_id` and the content of `client_secret_file` are its ID and \
             secret, copied whole. If you had to create a new client, its refresh tokens are new \
             too: run `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET).",
            "Google がこの OAuth クライアントを認識できません（「The OAuth client was not found.」）。Google \
             Cloud コンソール →「Google Auth Platform」→「クライアント」で、クライアントがまだ存在するか、\
             `client_id` と `client_secret_file` の内容がその ID とシークレットを欠けずに写したものかを確認して\
             ください。クライアントを新しく作成した場合はリフレッシュ トークンも新しく必要です。\
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。",
        ),
        GoogleClientDeleted => (
            "The OAuth client was deleted in Google Cloud console, and with it every refresh token \
             issued to it. Restore it within 30 days (Google Cloud console → Google Auth Platform \
             → Clients → Deleted credentials), or create a new client and put its ID and secret \
             in `client_id` and `client_secret_file`; then run `mailbeat reauth TARGET` or open \
             the re-authorize link on the status page (/reauth/TARGET).",
            "Google Cloud コンソールで OAuth クライアントが削除され、そのクライアントに発行されたリフレッシュ \
             トークンもすべて無効になりました。30 日以内なら復元できます（Google Cloud コンソール →\
             「Google Auth Platform」→「クライアント」→「削除した認証情報」）。または新しいクライアントを作成して \
             ID とシークレットを `client_id` と `client_secret_file` に設定してください。その後 \
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。",
        ),
        GoogleWrongClient => (
            "Google says the refresh token was not issued to this OAuth client \
             (unauthorized_client): `client_id` and `client_secret_file` belong to another client \
             than the one that was authorized, or the token was imported from another tool. Set \
             the client the token was issued to, or keep this client and run `mailbeat reauth \
             TARGET` or open the re-authorize link on the status page (/reauth/TARGET) to get a \
             token for it.",
            "Google によると、このリフレッシュ トークンはこの OAuth クライアントに発行されたものではありません\
             （unauthorized_client）。`client_id` と `client_secret_file` が認可したものとは別のクライアントの\
             ものか、トークンを別のツールから取り込んでいます。トークンを発行したクライアントを設定するか、\
             このクライアントのまま `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク\
             （/reauth/TARGET）から再認可して、このクライアント用のトークンを取得してください。",
        ),

        // ---- sign-in policies ----
        MsMfa => (
            "Microsoft wants this user to complete multi-factor authentication (again) before it \
             issues more tokens (AADSTS50076, AADSTS50078: a new location, or a policy's MFA \
             lifetime). Run `mailbeat reauth TARGET` or open the re-authorize link on the status \
             page (/reauth/TARGET) and complete the MFA in the browser. If it recurs, look at the \
             Conditional Access policies or per-user MFA settings that apply to this account.",
            "Microsoft は、トークンを発行する前にこのユーザーが多要素認証を（再度）完了することを求めています\
             （AADSTS50076、AADSTS50078：新しい場所からのアクセス、またはポリシーによる MFA の有効期限）。\
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）を開き、\
             ブラウザで多要素認証を完了してください。繰り返し起きる場合は、このアカウントに適用される条件付き\
             アクセス ポリシーやユーザー単位の MFA の設定を確認してください。",
        ),
        MsMfaEnroll => (
            "This user must register a multi-factor authentication method before Microsoft issues \
             more tokens (AADSTS50079). Sign in as the user at https://aka.ms/mysecurityinfo and \
             add a method, then run `mailbeat reauth TARGET` or open the re-authorize link on the \
             status page (/reauth/TARGET).",
            "Microsoft がトークンを発行する前に、このユーザーは多要素認証の方法を登録する必要があります\
             （AADSTS50079）。https://aka.ms/mysecurityinfo にそのユーザーでサインインして方法を追加し、\
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。",
        ),
        MsConditionalAccess => (
            "A Conditional Access policy blocks token issuance for this user (AADSTS53003). In \
             Microsoft Entra admin center → Monitoring & health → Sign-in logs, open the failed \
             sign-in: its Conditional Access tab names the policy. Have the admin exclude this \
             account from it, or allow the agent's network as a named location; if the policy \
             asks for something a sign-in can give, run `mailbeat reauth TARGET` or open the \
             re-authorize link on the status page (/reauth/TARGET).",
            "条件付きアクセス ポリシーが、このユーザーへのトークンの発行をブロックしています（AADSTS53003）。\
             Microsoft Entra 管理センター →「監視と正常性」→「サインイン ログ」で失敗したサインインを開くと、\
             「条件付きアクセス」タブにポリシー名が表示されます。管理者にそのポリシーからこのアカウントを\
             除外するか、エージェントのネットワークをネームド ロケーションとして許可してもらってください。\
             サインインで満たせる条件であれば、`mailbeat reauth TARGET` を実行するか、ステータスページの\
             再認可リンク（/reauth/TARGET）から再認可してください。",
        ),
        MsDeviceState => (
            "A Conditional Access policy requires a compliant or managed device for this user \
             (AADSTS53000), which an agent on a server cannot be. Have the admin exclude this \
             account or the app from the device requirement (Microsoft Entra admin center → \
             Protection → Conditional Access, the policy named in the failed sign-in's Conditional \
             Access tab), then run `mailbeat reauth TARGET` or open the re-authorize link on the \
             status page (/reauth/TARGET).",
            "条件付きアクセス ポリシーが、このユーザーに準拠済みまたは管理対象のデバイスを求めています\
             （AADSTS53000）。サーバー上のエージェントはその条件を満たせません。管理者に、デバイスの要件から\
             このアカウントまたはアプリを除外してもらい（Microsoft Entra 管理センター →「保護」→「条件付き\
             アクセス」、失敗したサインインの「条件付きアクセス」タブに表示されるポリシー）、その後 \
             `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク（/reauth/TARGET）から\
             再認可してください。",
        ),
        MsBadPassword => (
            "Microsoft rejected the user name or password (AADSTS50126). mailbeat refreshes with a \
             refresh token and sends no password: re-authorize the account with `mailbeat reauth \
             TARGET` or the re-authorize link on the status page (/reauth/TARGET), signing in as \
             this target's user, and check that `token_url` is the provider's token endpoint.",
            "Microsoft がユーザー名またはパスワードを拒否しました（AADSTS50126）。mailbeat はリフレッシュ \
             トークンで更新し、パスワードは送りません。`mailbeat reauth TARGET` またはステータスページの\
             再認可リンク（/reauth/TARGET）から、このターゲットのユーザーでサインインしてアカウントを\
             再認可し、`token_url` がプロバイダのトークン エンドポイントであることを確認してください。",
        ),

        // ---- the request: configuration ----
        MsSecretMissing => (
            "The app registration is a confidential client, so Microsoft wants a client secret \
             with every refresh (AADSTS7000218), and the account has none. Put the secret's Value \
             in a file named by the account's `client_secret_file`, or, for a public client, turn \
             on Allow public client flows in Microsoft Entra admin center → App registrations → \
             the app → Authentication. Re-authorizing (`mailbeat reauth TARGET` or \
             /reauth/TARGET on the status page) is not needed.",
            "アプリの登録が機密クライアントになっているため、Microsoft は更新のたびにクライアント シークレットを\
             求めます（AADSTS7000218）が、アカウントにはシークレットが設定されていません。シークレットの\
             「値」をファイルに書き込んでアカウントの `client_secret_file` に指定するか、パブリック \
             クライアントとして使う場合は Microsoft Entra 管理センター →「アプリの登録」→ 対象のアプリ →\
             「認証」で「パブリック クライアント フローを許可する」をオンにしてください。再認可\
             （`mailbeat reauth TARGET` またはステータスページの /reauth/TARGET）は不要です。",
        ),
        MsTenant => (
            "Microsoft does not allow this app or grant on the `common` or `consumers` endpoint \
             (AADSTS90130, AADSTS9001023). Set the account's `tenant` to the app's \
             tenant ID or domain (or `organizations` for work and school accounts), reload \
             mailbeat, and run `mailbeat reauth TARGET` or open the re-authorize link on the \
             status page (/reauth/TARGET) if the check still fails.",
            "Microsoft は、このアプリまたはグラントを `common` や `consumers` のエンドポイントで許可していません\
             （AADSTS90130、AADSTS9001023）。アカウントの `tenant` をアプリのテナント ID または\
             ドメイン（職場・学校アカウントなら `organizations`）にして mailbeat をリロードし、それでも\
             チェックが失敗する場合は `mailbeat reauth TARGET` を実行するか、ステータスページの再認可リンク\
             （/reauth/TARGET）から再認可してください。",
        ),
        BadScope => (
            "The token endpoint refused the requested scopes (invalid_scope). Remove `scopes` from \
             the account to use the provider's mail scope for the protocol (Google: \
             https://mail.google.com/; Microsoft: IMAP.AccessAsUser.All, POP.AccessAsUser.All or \
             SMTP.Send under https://outlook.office.com/, plus offline_access), or correct them, \
             then run `mailbeat reauth TARGET` or open the re-authorize link on the status page \
             (/reauth/TARGET), since a grant carries the scopes it was given.",
            "トークン エンドポイントが、要求したスコープを拒否しました（invalid_scope）。アカウントから \
             `scopes` を削除してプロトコルに応じたプロバイダのメール用スコープ（Google は \
             https://mail.google.com/、Microsoft は https://outlook.office.com/ の IMAP.AccessAsUser.All、\
             POP.AccessAsUser.All または SMTP.Send と offline_access）を使うか、スコープを修正してください。\
             認可には与えられたときのスコープが付くため、その後 `mailbeat reauth TARGET` を実行するか、\
             ステータスページの再認可リンク（/reauth/TARGET）から再認可してください。",
        ),
        BadGrantType => (
            "The token endpoint does not accept refresh tokens from this client \
             (unsupported_grant_type). Check that `token_url` is the provider's token endpoint and \
             that the client may use the refresh_token grant (some servers must enable it per \
             client), then run `mailbeat reauth TARGET` or open the re-authorize link on the \
             status page (/reauth/TARGET).",
            "トークン エンドポイントが、このクライアントからのリフレッシュ トークンを受け付けません\
             （unsupported_grant_type）。`token_url` がプロバイダのトークン エンドポイントであること、\
             クライアントに refresh_token グラントが許可されていること（サーバーによってはクライアントごとに\
             有効化が必要です）を確認し、その後 `mailbeat reauth TARGET` を実行するか、ステータスページの\
             再認可リンク（/reauth/TARGET）から再認可してください。",
        ),
        BadRequest => (
            "The token endpoint refused mailbeat's request as malformed (invalid_request). Check \
             `token_url`, `client_id` and `tenant` against the provider's documentation; if they \
             are right, run the check with `--log.level=debug` and report the message (it never \
             contains the tokens). Re-authorizing (`mailbeat reauth TARGET` or /reauth/TARGET on \
             the status page) helps only when the message names the refresh token.",
            "トークン エンドポイントが、mailbeat の要求を不正な形式として拒否しました（invalid_request）。\
             `token_url`、`client_id`、`tenant` をプロバイダのドキュメントと照らし合わせてください。正しい\
             場合は、`--log.level=debug` を付けてチェックを実行し、メッセージを報告してください（トークンは\
             含まれません）。再認可（`mailbeat reauth TARGET` またはステータスページの /reauth/TARGET）が\
             役立つのは、メッセージがリフレッシュ トークンに触れている場合だけです。",
        ),

        // ---- the endpoint ----
        RateLimited => (
            "The token endpoint is throttling this client (HTTP 429, or Microsoft's AADSTS50196 \
             \"client request loop\"). mailbeat refreshes once per account for all its targets and \
             backs off by itself; look for other programs that use the same `client_id` and \
             request tokens in a loop. Re-authorizing (`mailbeat reauth TARGET` or \
             /reauth/TARGET on the status page) does not help.",
            "トークン エンドポイントが、このクライアントを制限しています（HTTP 429、または Microsoft の \
             AADSTS50196「client request loop」）。mailbeat はアカウントごとに一度だけ更新してすべての\
             ターゲットで共有し、自動的に間隔を空けます。同じ `client_id` を使ってトークンを繰り返し要求している\
             ほかのプログラムがないか確認してください。再認可（`mailbeat reauth TARGET` またはステータスページの \
             /reauth/TARGET）では解決しません。",
        ),
        NotJson => (
            "Something other than the identity provider answered: the token endpoint's answer was \
             an HTML page or plain text, not JSON, which is what a proxy, firewall, captive portal \
             or load balancer sends. Check that `token_url` is right and that the agent reaches it \
             directly or through the intended proxy (HTTPS_PROXY); it usually clears by itself if \
             the provider is at fault. Re-authorizing (`mailbeat reauth TARGET` or \
             /reauth/TARGET on the status page) does not help.",
            "ID プロバイダ以外のものが応答しました。トークン エンドポイントの応答が JSON ではなく HTML ページや\
             テキストでした。これはプロキシ、ファイアウォール、キャプティブ ポータル、ロード バランサーが返す\
             ものです。`token_url` が正しいか、エージェントが直接、または意図したプロキシ（HTTPS_PROXY）を\
             経由して到達しているかを確認してください。プロバイダ側の障害であれば、通常は自然に回復します。\
             再認可（`mailbeat reauth TARGET` またはステータスページの /reauth/TARGET）では解決しません。",
        ),
        NotOAuth | NoToken => (
            "The token endpoint answered JSON that is neither a token nor an OAuth error, which \
             means `token_url` points at something else than the provider's token endpoint, or an \
             API gateway answered in its place. Check `token_url` (or remove it to use the \
             provider's), then reload mailbeat. Re-authorizing (`mailbeat reauth TARGET` or \
             /reauth/TARGET on the status page) does not help.",
            "トークン エンドポイントが、トークンでも OAuth のエラーでもない JSON を返しました。`token_url` が\
             プロバイダのトークン エンドポイント以外を指しているか、API ゲートウェイが代わりに応答しています。\
             `token_url` を確認し（削除すればプロバイダの既定値を使います）、mailbeat をリロードしてください。\
             再認可（`mailbeat reauth TARGET` またはステータスページの /reauth/TARGET）では解決しません。",
        ),

        Expired | Revoked | Consent | InvalidClient | ServerError | Timeout | Unreachable
        | Case::Unknown => return None,
    })
}
