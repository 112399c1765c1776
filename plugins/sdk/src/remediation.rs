//! What a person must do about each reason, in English and Japanese, refined by provider.
//!
//! Every [`Reason`] has a generic text ([`generic`]); where the fix differs by provider (where to
//! create an app password, which admin switch turns SMTP AUTH on) a provider-specific text replaces
//! it ([`for_provider`]). Both tables are plain `match` arms, one per case, read top to bottom in the
//! order of the reason table (`crate::reason`).
//!
//! Texts name the target as `TARGET` (as in `mailbeat reauth TARGET`); a caller that knows the
//! target's name may replace [`TARGET_PLACEHOLDER`] with it. Commands, URLs and settings are the
//! same in both languages, so they can be copied as they stand.

pub use crate::provider::Provider;
use crate::{Locale, Reason};

/// The word the texts use for the target's configured name.
pub const TARGET_PLACEHOLDER: &str = "TARGET";

/// The remediation text for a reason. `provider` is the target's preset name (`gmail`,
/// `office365`, …) where the advice differs by provider.
pub fn remediation(reason: Reason, provider: Option<&str>, locale: Locale) -> String {
    let text =
        for_provider(reason, Provider::from_preset(provider)).unwrap_or_else(|| generic(reason));
    match locale {
        Locale::En => text.en,
        Locale::Ja => text.ja,
    }
    .to_string()
}

/// `text` with the target's configured name in place of [`TARGET_PLACEHOLDER`], in the command
/// (`mailbeat reauth nas-gmail`) and in the status page's link (`/reauth/nas-gmail`).
pub fn for_target(text: &str, target: &str) -> String {
    text.replace(TARGET_PLACEHOLDER, target)
}

/// `text` with the target's own values in place of the words the texts use for them, whole
/// words only: `TARGET` (its name), `HOST`, `PORT`, `NAME` (the name its certificate must carry)
/// and `USER` (the account's login), so a person can copy `dig imap.example.com` as it stands.
/// A value the target lacks leaves its word.
pub fn for_target_values(text: &str, t: &crate::Target) -> String {
    let port = t.port.map(|p| p.to_string());
    let name = t
        .tls_server_name
        .clone()
        .unwrap_or_else(|| crate::target::bare_host(&t.host).to_string());
    let user = t.account.as_ref().map(|a| a.username.clone());
    let values: [(&str, Option<&str>); 5] = [
        (TARGET_PLACEHOLDER, Some(t.name.as_str())),
        ("HOST", Some(crate::target::bare_host(&t.host))),
        ("PORT", port.as_deref()),
        ("NAME", Some(name.as_str())),
        ("USER", user.as_deref()),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (word, value) in values {
            let Some(value) = value else { continue };
            if rest.starts_with(word) {
                let before_ok = !out.chars().last().is_some_and(is_word_char);
                let after_ok = !rest[word.len()..].chars().next().is_some_and(is_word_char);
                if before_ok && after_ok {
                    out.push_str(value);
                    rest = &rest[word.len()..];
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// One remediation, in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Text {
    en: &'static str,
    ja: &'static str,
}

const fn t(en: &'static str, ja: &'static str) -> Text {
    Text { en, ja }
}

/// The advice that differs by provider; `None` where the generic text applies.
fn for_provider(reason: Reason, provider: Provider) -> Option<Text> {
    use Provider::*;
    use Reason::*;
    let text = match (reason, provider) {
        // ---- network ----
        (DnsFailure, p) if p.is_public() => t(
            "The provider's host name did not resolve, which almost always means the agent \
             machine's DNS is broken, not the provider. Check that the target uses the provider's \
             documented host name, then test the resolver on the agent machine with `dig HOST` and \
             check /etc/resolv.conf or the container's DNS settings.",
            "プロバイダのホスト名を名前解決できませんでした。ほとんどの場合、原因はプロバイダではなく\
             エージェント側の DNS です。ターゲットがプロバイダの公式ホスト名を使っているかを確認したうえで、\
             エージェントのマシンで `dig HOST` を実行し、/etc/resolv.conf やコンテナの DNS 設定を確認してください。",
        ),
        (ConnectionRefused, p) if p.is_public() => t(
            "The provider refused the connection on this port. Use the provider's documented port \
             for the protocol (465 or 587 for SMTP, 993 for IMAP, 995 for POP3). If the port is \
             right, a firewall or proxy between the agent and the internet is rejecting the \
             connection.",
            "プロバイダがこのポートへの接続を拒否しました。プロトコルごとに案内されているポート\
             （SMTP は 465 または 587、IMAP は 993、POP3 は 995）を指定してください。ポートが正しい場合は、\
             エージェントとインターネットの間にあるファイアウォールやプロキシが接続を拒否しています。",
        ),

        // ---- protocol ----
        (ProtocolError, Netease) => t(
            "NetEase servers (163.com, 126.com, yeah.net) refuse IMAP sessions from clients that do \
             not identify themselves with the IMAP ID command (\"Unsafe Login. Please contact \
             kefu@188.com for help\"). This is a client compatibility problem, not an account \
             problem: run the check with `--log.level=debug` and report the dialogue, and monitor \
             this mailbox over POP3 (pop.163.com:995, `tls: implicit`) meanwhile.",
            "NetEase のサーバー（163.com、126.com、yeah.net）は、IMAP の ID コマンドで名乗らないクライアントの\
             セッションを拒否します（「Unsafe Login. Please contact kefu@188.com for help」）。アカウントではなく\
             クライアント側の互換性の問題です。`--log.level=debug` を付けてチェックを実行し、そのやり取りを添えて\
             報告してください。それまでの間は POP3（pop.163.com:995、`tls: implicit`）でこのメールボックスを\
             監視してください。",
        ),
        (StarttlsRequired, Gmail) => t(
            "Gmail requires TLS. Use smtp.gmail.com port 465 with `tls: implicit` or port 587 with \
             `tls: starttls`, imap.gmail.com port 993 and pop.gmail.com port 995 with \
             `tls: implicit`.",
            "Gmail では TLS が必須です。smtp.gmail.com は 465 番ポートで `tls: implicit`、または 587 番ポートで \
             `tls: starttls` を、imap.gmail.com は 993 番、pop.gmail.com は 995 番ポートで `tls: implicit` を\
             指定してください。",
        ),
        (StarttlsRequired, Microsoft) => t(
            "Microsoft requires TLS. Use smtp.office365.com (smtp-mail.outlook.com for Outlook.com \
             accounts) port 587 with `tls: starttls`, and outlook.office365.com port 993 (IMAP) or \
             995 (POP3) with `tls: implicit`.",
            "Microsoft では TLS が必須です。smtp.office365.com（Outlook.com のアカウントでは \
             smtp-mail.outlook.com）は 587 番ポートで `tls: starttls` を、outlook.office365.com は 993 番\
             （IMAP）または 995 番（POP3）ポートで `tls: implicit` を指定してください。",
        ),

        // ---- tls ----
        (TlsCertExpired, p) if p.is_public() => t(
            "The provider renews its certificates automatically, so an expired certificate here \
             almost always means the agent machine's clock is wrong, or a TLS-intercepting proxy or \
             antivirus sits in between. Check the clock (`timedatectl`, NTP) and the certificate's \
             issuer with `openssl s_client -connect HOST:PORT -servername NAME`.",
            "プロバイダの証明書は自動的に更新されるため、ここで期限切れと判定される場合は、ほぼ確実に\
             エージェントのマシンの時計がずれているか、TLS を中継・検査するプロキシやウイルス対策ソフトが\
             間に入っています。時刻（`timedatectl`、NTP）を確認し、`openssl s_client -connect HOST:PORT \
             -servername NAME` で証明書の発行者を確かめてください。",
        ),
        (TlsHostnameMismatch, p) if p.is_public() => t(
            "Connect to the provider's documented host name (for example smtp.gmail.com, \
             smtp.office365.com, imap.mail.yahoo.com); the provider's certificate does not cover \
             aliases in your own domain. If `host` is an IP address or a CNAME of your own, set \
             `tls_server_name` to the provider's host name.",
            "プロバイダが案内している正式なホスト名（例：smtp.gmail.com、smtp.office365.com、\
             imap.mail.yahoo.com）で接続してください。プロバイダの証明書は、自社ドメインに作った別名を\
             カバーしていません。`host` に IP アドレスや自社ドメインの CNAME を指定している場合は、\
             `tls_server_name` にプロバイダのホスト名を指定してください。",
        ),
        (TlsUntrustedRoot | TlsSelfSigned | TlsChainIncomplete, p) if p.is_public() => t(
            "The provider's servers present publicly trusted, complete certificate chains, so this \
             result means something in between replaced the certificate: a TLS-inspecting proxy, \
             firewall or antivirus. Compare the issuer shown by `openssl s_client -connect \
             HOST:PORT -servername NAME` on the agent machine with the provider's, and exempt the \
             mail hosts from inspection (or set the target's `ca_file` to the inspection CA if that \
             is intended).",
            "プロバイダのサーバーは公的に信頼された完全な証明書チェーンを提示するため、この結果は途中で\
             何かが証明書を差し替えていることを意味します（TLS を検査するプロキシ、ファイアウォール、\
             ウイルス対策ソフトなど）。エージェントのマシンで `openssl s_client -connect HOST:PORT \
             -servername NAME` を実行して表示される発行者をプロバイダ本来のものと比べ、メールサーバー宛ての\
             通信を検査の対象外にしてください（検査を意図している場合は、その検査用 CA をターゲットの \
             `ca_file` に指定してください）。",
        ),

        // ---- auth: bad credentials ----
        (AuthBadCredentials, Gmail) => t(
            "Gmail rejected the login. Google accounts do not accept the normal account password \
             from mail clients: create an app password at https://myaccount.google.com/apppasswords \
             (this needs 2-Step Verification) and put it in the account's `password_file`, or switch \
             the account to OAuth2 and run `mailbeat reauth TARGET`. If you already use an app \
             password, it was revoked or mistyped: create a new one.",
            "Gmail がログインを拒否しました。Google アカウントはメールクライアントからの通常のパスワードを\
             受け付けません。https://myaccount.google.com/apppasswords でアプリ パスワードを作成し\
             （2 段階認証プロセスの有効化が必要です）、アカウントの `password_file` に書き込むか、\
             アカウントを OAuth2 に切り替えて `mailbeat reauth TARGET` を実行してください。すでにアプリ \
             パスワードを使っている場合は、それが取り消されたか誤っています。新しく作り直してください。",
        ),
        (AuthBadCredentials, Microsoft) => t(
            "Microsoft rejected the login. Check the user name (the full address, e.g. \
             user@contoso.com) and the password. Exchange Online and Outlook.com no longer accept \
             passwords for IMAP and POP, and are retiring them for SMTP AUTH: switch the account to \
             OAuth2 and run `mailbeat reauth TARGET`. If the account already uses OAuth2, the token \
             was not accepted for this mailbox: check that the app has the delegated permission for \
             this protocol (SMTP.Send, IMAP.AccessAsUser.All or POP.AccessAsUser.All) with consent, \
             and that the protocol is enabled for the mailbox.",
            "Microsoft がログインを拒否しました。ユーザー名（user@contoso.com のようなアドレス全体）と\
             パスワードを確認してください。Exchange Online と Outlook.com は IMAP・POP でのパスワード認証を\
             すでに受け付けておらず、SMTP AUTH でも廃止が進んでいます。アカウントを OAuth2 に切り替えて \
             `mailbeat reauth TARGET` を実行してください。すでに OAuth2 を使っている場合は、トークンがこの\
             メールボックスで受け付けられていません。アプリにこのプロトコル用の委任されたアクセス許可\
             （SMTP.Send、IMAP.AccessAsUser.All、POP.AccessAsUser.All）と同意があるか、メールボックスで\
             そのプロトコルが有効になっているかを確認してください。",
        ),
        (AuthBadCredentials, Yahoo) => t(
            "Yahoo accepts only an app password from mail clients. Create one at \
             https://login.yahoo.com/account/security → Generate app password and put it in the \
             account's `password_file`; the user name is the full Yahoo address.",
            "Yahoo はメールクライアントからのログインにアプリパスワードしか受け付けません。\
             https://login.yahoo.com/account/security →「アプリパスワードを生成」（Generate app password）で\
             作成し、アカウントの `password_file` に書き込んでください。ユーザー名は Yahoo のメールアドレス\
             全体です。",
        ),
        (AuthBadCredentials, Zoho) => t(
            "Zoho rejected the login. With two-factor authentication on, Zoho needs an \
             application-specific password: create one at https://accounts.zoho.com → Security → \
             App Passwords and put it in the account's `password_file`. Also check that IMAP or POP \
             access is enabled in Zoho Mail → Settings → Mail Accounts, and that the host matches \
             your data center (zoho.com, zoho.eu, zoho.in, …).",
            "Zoho がログインを拒否しました。二要素認証を有効にしている場合、Zoho ではアプリケーション固有の\
             パスワードが必要です。https://accounts.zoho.com →「セキュリティ」→「アプリパスワード」で作成し、\
             アカウントの `password_file` に書き込んでください。あわせて Zoho Mail の「設定」→\
             「メールアカウント」で IMAP または POP のアクセスが有効になっているか、ホスト名が契約している\
             データセンター（zoho.com、zoho.eu、zoho.in など）と一致しているかも確認してください。",
        ),
        (AuthBadCredentials, Icloud) => t(
            "iCloud Mail accepts only an app-specific password from mail clients, never the Apple \
             Account password. Create one at https://appleid.apple.com → Sign-In and Security → \
             App-Specific Passwords and put it in the account's `password_file`; the user name is \
             the full iCloud address (name@icloud.com).",
            "iCloud メールはメールクライアントからのログインに App 用パスワードしか受け付けず、Apple アカウントの\
             パスワードは使えません。https://appleid.apple.com →「サインインとセキュリティ」→\
             「App 用パスワード」で作成し、アカウントの `password_file` に書き込んでください。ユーザー名は \
             iCloud のメールアドレス全体（name@icloud.com）です。",
        ),
        (AuthBadCredentials, Netease) => t(
            "NetEase servers do not accept the web login password from mail clients. In the web \
             mailbox open 设置 → POP3/SMTP/IMAP, enable the IMAP/SMTP service, generate an \
             authorization code (授权码) and put it in the account's `password_file`.",
            "NetEase のサーバーは、Web メールのログインパスワードをメールクライアントからは受け付けません。\
             Web メールで「设置」→「POP3/SMTP/IMAP」を開いて IMAP/SMTP サービスを有効にし、授权码\
             （認証コード）を生成してアカウントの `password_file` に書き込んでください。",
        ),

        // ---- auth: app password required ----
        (AuthAppPasswordRequired, Gmail) => t(
            "2-Step Verification is on for this Google account, so Gmail refuses the normal \
             password. Create an app password at https://myaccount.google.com/apppasswords and put \
             its 16 characters (without spaces) in the account's `password_file`; or switch the \
             account to OAuth2 (XOAUTH2) and run `mailbeat reauth TARGET`. If the app passwords page \
             is missing, a Workspace admin has turned app passwords off or the account is in \
             Advanced Protection: use OAuth2.",
            "この Google アカウントでは 2 段階認証プロセスが有効なため、Gmail は通常のパスワードを拒否します。\
             https://myaccount.google.com/apppasswords でアプリ パスワードを作成し、その 16 文字（空白なし）を\
             アカウントの `password_file` に書き込むか、アカウントを OAuth2（XOAUTH2）に切り替えて \
             `mailbeat reauth TARGET` を実行してください。アプリ パスワードのページが表示されない場合は、\
             Workspace の管理者がアプリ パスワードを無効にしているか、アカウントが高度な保護機能プログラムに\
             登録されています。その場合は OAuth2 を使ってください。",
        ),
        (AuthAppPasswordRequired, Microsoft) => t(
            "At Microsoft an app password only helps where basic authentication is still allowed \
             (SMTP AUTH in a tenant that permits it, for a user with per-user MFA: \
             https://mysignins.microsoft.com/security-info → Add sign-in method → App password). \
             Outlook.com and Exchange Online IMAP/POP accept no password at all. The lasting fix is \
             OAuth2 (XOAUTH2): configure `oauth` for the account and run `mailbeat reauth TARGET`.",
            "Microsoft でアプリ パスワードが役に立つのは、基本認証がまだ許可されている場合だけです\
             （テナントが SMTP AUTH を許可していて、ユーザー単位の MFA を使っている場合。\
             https://mysignins.microsoft.com/security-info →「サインイン方法の追加」→「アプリ パスワード」）。\
             Outlook.com と Exchange Online の IMAP・POP はパスワードを一切受け付けません。恒久的な対処は \
             OAuth2（XOAUTH2）への切り替えです。アカウントに `oauth` を設定し、`mailbeat reauth TARGET` を\
             実行してください。",
        ),
        (AuthAppPasswordRequired, Yahoo) => t(
            "Yahoo requires an app password for mail clients. Open \
             https://login.yahoo.com/account/security → Generate app password, create one for \
             mailbeat and put it in the account's `password_file`.",
            "Yahoo ではメールクライアント用にアプリパスワードが必要です。\
             https://login.yahoo.com/account/security →「アプリパスワードを生成」（Generate app password）で \
             mailbeat 用のパスワードを作成し、アカウントの `password_file` に書き込んでください。",
        ),
        (AuthAppPasswordRequired, Zoho) => t(
            "Two-factor authentication is on for this Zoho account. Create an application-specific \
             password at https://accounts.zoho.com → Security → App Passwords and put it in the \
             account's `password_file`.",
            "この Zoho アカウントでは二要素認証が有効です。https://accounts.zoho.com →「セキュリティ」→\
             「アプリパスワード」でアプリケーション固有のパスワードを作成し、アカウントの `password_file` に\
             書き込んでください。",
        ),
        (AuthAppPasswordRequired, Icloud) => t(
            "iCloud Mail needs an app-specific password. Create one at https://appleid.apple.com → \
             Sign-In and Security → App-Specific Passwords (two-factor authentication must be on for \
             the Apple Account) and put it in the account's `password_file`.",
            "iCloud メールには App 用パスワードが必要です。https://appleid.apple.com →\
             「サインインとセキュリティ」→「App 用パスワード」で作成し（Apple アカウントで 2 ファクタ認証が\
             有効になっている必要があります）、アカウントの `password_file` に書き込んでください。",
        ),
        (AuthAppPasswordRequired, Netease) => t(
            "NetEase wants an authorization code (授权码), not the web password. In the web mailbox \
             open 设置 → POP3/SMTP/IMAP, turn on the IMAP/SMTP (or POP3/SMTP) service, generate an \
             authorization code (a phone verification is required) and put it in the account's \
             `password_file`.",
            "NetEase では Web のパスワードではなく授权码（認証コード）が必要です。Web メールで「设置」→\
             「POP3/SMTP/IMAP」を開き、IMAP/SMTP（または POP3/SMTP）サービスを有効にして授权码を生成し\
             （携帯電話による確認が必要です）、アカウントの `password_file` に書き込んでください。",
        ),

        // ---- auth: web login, protocol and basic auth switched off ----
        (AuthWebLoginRequired, Gmail) => t(
            "Google blocked the sign-in (534-5.7.14, WEBALERT) until someone signs in from a \
             browser. Sign in at https://accounts.google.com as this account, ideally from the \
             network the agent uses, complete the security check, and confirm the blocked sign-in \
             under https://myaccount.google.com/security → Recent security activity. Then use an \
             app password (https://myaccount.google.com/apppasswords) or, better, switch the \
             account to OAuth2 and run `mailbeat reauth TARGET`.",
            "Google が、ブラウザからサインインされるまでこのログインをブロックしました（534-5.7.14、\
             WEBALERT）。このアカウントで、できればエージェントと同じネットワークから \
             https://accounts.google.com にブラウザでサインインしてセキュリティ確認を完了し、\
             https://myaccount.google.com/security の「最近のセキュリティ アクティビティ」でブロックされた\
             サインインが本人のものだと確認してください。そのうえでアプリ パスワード\
             （https://myaccount.google.com/apppasswords）を使うか、できればアカウントを OAuth2 に切り替えて \
             `mailbeat reauth TARGET` を実行してください。",
        ),
        (AuthProtocolDisabled, Microsoft) => t(
            "SMTP AUTH (or IMAP/POP) is turned off for this mailbox or for the whole tenant. For the \
             mailbox: Microsoft 365 admin center → Users → Active users → select the user → Mail → \
             Manage email apps → tick Authenticated SMTP (and IMAP or POP), or in Exchange Online \
             PowerShell `Set-CASMailbox -Identity USER -SmtpClientAuthenticationDisabled $false`. \
             The tenant-wide setting: `Get-TransportConfig | Format-List \
             SmtpClientAuthenticationDisabled`, and `Set-TransportConfig \
             -SmtpClientAuthenticationDisabled $false` to allow it (a mailbox set to $false is \
             allowed either way). For IMAP: `Set-CASMailbox -Identity USER -ImapEnabled $true`; for \
             POP: `Set-CASMailbox -Identity USER -PopEnabled $true`. Security defaults also block \
             SMTP AUTH with a password; use OAuth2 then.",
            "このメールボックス、またはテナント全体で SMTP AUTH（または IMAP・POP）が無効になっています。\
             メールボックス単位では、Microsoft 365 管理センター →「ユーザー」→「アクティブなユーザー」→ \
             対象ユーザー →「メール」→「メール アプリの管理」で「認証済み SMTP」（必要に応じて IMAP・POP）に\
             チェックを入れるか、Exchange Online PowerShell で \
             `Set-CASMailbox -Identity USER -SmtpClientAuthenticationDisabled $false` を実行します。\
             テナント全体の設定は `Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled` で\
             確認し、`Set-TransportConfig -SmtpClientAuthenticationDisabled $false` で許可します（メールボックス\
             側で $false にしたものはテナントの設定にかかわらず許可されます）。IMAP は \
             `Set-CASMailbox -Identity USER -ImapEnabled $true`、POP は \
             `Set-CASMailbox -Identity USER -PopEnabled $true` で有効にします。セキュリティの既定値群が有効な\
             場合もパスワードでの SMTP AUTH はブロックされるため、その場合は OAuth2 を使ってください。",
        ),
        (AuthProtocolDisabled, Gmail) => t(
            "IMAP or POP is turned off for this account. Google Workspace: Admin console \
             (https://admin.google.com) → Apps → Google Workspace → Gmail → End User Access → POP \
             and IMAP access, allow it for the user's organizational unit. Personal Gmail: Gmail \
             settings → See all settings → Forwarding and POP/IMAP → enable POP (IMAP is always on \
             for personal accounts).",
            "このアカウントでは IMAP または POP が無効になっています。Google Workspace の場合は、管理コンソール\
             （https://admin.google.com）→「アプリ」→「Google Workspace」→「Gmail」→「エンドユーザーのアクセス」→\
             「POP と IMAP へのアクセス」で、ユーザーの組織部門に対して許可してください。個人の Gmail の場合は、\
             Gmail の「設定」→「すべての設定を表示」→「メール転送と POP/IMAP」で POP を有効にしてください\
             （個人アカウントの IMAP は常に有効です）。",
        ),
        (AuthProtocolDisabled, Zoho) => t(
            "IMAP or POP is not enabled for this Zoho mailbox (\"You are yet to enable IMAP for \
             your account\"). Enable it in Zoho Mail → Settings → Mail Accounts → select the \
             address → IMAP Access (or POP Access); in an organization the admin must also allow it \
             in the Zoho Mail Admin Console (Users → the user → Mail Settings, and the email \
             policy's access restrictions). Some free plans have no IMAP or POP at all.",
            "この Zoho のメールボックスでは IMAP または POP が有効になっていません（「You are yet to enable \
             IMAP for your account」）。Zoho Mail の「設定」→「メールアカウント」→ 対象のアドレス →\
             「IMAPアクセス」（または「POPアクセス」）で有効にしてください。組織で利用している場合は、管理者が \
             Zoho Mail 管理者コンソール（「ユーザー」→ 対象ユーザー →「メール設定」、およびメールポリシーの\
             アクセス制限）でも許可する必要があります。無料プランの一部では IMAP・POP 自体が使えません。",
        ),
        (AuthProtocolDisabled, Netease) => t(
            "The IMAP/SMTP or POP3/SMTP service is off for this NetEase mailbox (\"550 User has no \
             permission\"). In the web mailbox open 设置 → POP3/SMTP/IMAP, enable the service, and \
             use the authorization code (授权码) it gives you as the password in `password_file`.",
            "この NetEase のメールボックスでは IMAP/SMTP または POP3/SMTP サービスが無効です（「550 User has \
             no permission」）。Web メールで「设置」→「POP3/SMTP/IMAP」を開いてサービスを有効にし、その際に\
             発行される授权码（認証コード）をパスワードとして `password_file` に書き込んでください。",
        ),
        (AuthBasicAuthDisabled, Microsoft) => t(
            "Microsoft has retired basic authentication (user name and password, app passwords \
             included) for Exchange Online and Outlook.com. Switch the account to OAuth2 (XOAUTH2): \
             register an app in Microsoft Entra ID with the delegated permissions \
             IMAP.AccessAsUser.All, POP.AccessAsUser.All or SMTP.Send plus offline_access, configure \
             `oauth` for the account, and run `mailbeat reauth TARGET`. If the account already uses \
             OAuth2, the token was refused: check those permissions and their consent, and that the \
             protocol is enabled for the mailbox (`Set-CASMailbox -Identity USER -ImapEnabled \
             $true`).",
            "Microsoft は Exchange Online と Outlook.com で基本認証（ユーザー名とパスワード。アプリ パスワードを\
             含む）を廃止しました。アカウントを OAuth2（XOAUTH2）に切り替えてください。Microsoft Entra ID に\
             アプリを登録して委任されたアクセス許可 IMAP.AccessAsUser.All、POP.AccessAsUser.All または \
             SMTP.Send と offline_access を付与し、アカウントに `oauth` を設定して `mailbeat reauth TARGET` を\
             実行します。すでに OAuth2 を使っている場合はトークンが拒否されています。これらのアクセス許可と\
             その同意、およびメールボックスでそのプロトコルが有効になっているか\
             （`Set-CASMailbox -Identity USER -ImapEnabled $true`）を確認してください。",
        ),
        (AuthBasicAuthDisabled, Gmail) => t(
            "Google no longer lets mail clients sign in with just the account password (access for \
             \"less secure apps\" has ended). Put an app password from \
             https://myaccount.google.com/apppasswords (needs 2-Step Verification) in the account's \
             `password_file`, or switch the account to OAuth2 and run `mailbeat reauth TARGET`.",
            "Google では、アカウントのパスワードだけでメールクライアントからサインインすることはできなくなりました\
             （「安全性の低いアプリ」のアクセスは終了しています）。https://myaccount.google.com/apppasswords で\
             作成したアプリ パスワード（2 段階認証プロセスが必要）をアカウントの `password_file` に書き込むか、\
             アカウントを OAuth2 に切り替えて `mailbeat reauth TARGET` を実行してください。",
        ),
        (AuthMechanismUnsupported, Microsoft) => t(
            "smtp.office365.com offers AUTH LOGIN and XOAUTH2 only after STARTTLS on port 587 (no \
             PLAIN). Use port 587 with `tls: starttls`, set the account's `mechanism` to `login` for \
             a password or `xoauth2` for OAuth2, or remove `mechanism` so mailbeat chooses.",
            "smtp.office365.com は、587 番ポートで STARTTLS を行った後にだけ AUTH LOGIN と XOAUTH2 を提供します\
             （PLAIN はありません）。587 番ポートで `tls: starttls` を指定し、アカウントの `mechanism` を\
             パスワードなら `login`、OAuth2 なら `xoauth2` にするか、`mechanism` を削除して mailbeat に選ばせて\
             ください。",
        ),

        // ---- auth: lockouts and policies ----
        (AuthTooManyAttempts, Yahoo) => t(
            "Yahoo answers \"(#AUTH005) Too many bad auth attempts\" even for the first login with \
             the normal account password: it accepts only an app password from mail clients. Create \
             one at https://login.yahoo.com/account/security → Generate app password, put it in the \
             account's `password_file`, and give Yahoo a while before the next attempt.",
            "Yahoo は、通常のアカウントパスワードでログインすると、1 回目であっても「(#AUTH005) Too many bad \
             auth attempts」と応答します。メールクライアントからはアプリパスワードしか受け付けないためです。\
             https://login.yahoo.com/account/security →「アプリパスワードを生成」（Generate app password）で\
             作成してアカウントの `password_file` に書き込み、しばらく時間を置いてから再度試してください。",
        ),
        (AuthTooManyAttempts, Gmail) => t(
            "Google is throttling logins for this account (454 4.7.0 Too many login attempts). Look \
             for other clients or scripts that log in with a wrong password or open a new session \
             for every message, fix them, and wait: the limit clears by itself, usually within an \
             hour.",
            "Google がこのアカウントのログインを制限しています（454 4.7.0 Too many login attempts）。誤った\
             パスワードでログインしている、あるいはメール 1 通ごとに新しいセッションを開いている他の\
             クライアントやスクリプトがないか確認して修正し、しばらく待ってください。通常は 1 時間ほどで\
             自動的に解除されます。",
        ),
        (AuthTooManyAttempts, Microsoft) => t(
            "Microsoft Entra smart lockout has locked the account after repeated failed sign-ins. \
             Find the source of the failures in Microsoft Entra admin center → Users → Sign-in logs, \
             fix its password, and wait for the lockout to expire (or have an admin reset the \
             password).",
            "サインインの失敗が繰り返されたため、Microsoft Entra のスマート ロックアウトがアカウントを\
             ロックしました。Microsoft Entra 管理センター →「ユーザー」→「サインイン ログ」で失敗の発生元を\
             特定してそのパスワードを直し、ロックアウトが解除されるまで待ってください（または管理者に\
             パスワードをリセットしてもらってください）。",
        ),
        (AuthAccountLocked, Microsoft) => t(
            "The user is blocked from signing in, disabled, or has an expired password in Microsoft \
             Entra ID. In Microsoft 365 admin center → Users → Active users, select the user and \
             unblock sign-in (or set Account enabled in Microsoft Entra admin center → Users → the \
             user → Properties), reset the password if it expired, and check the sign-in logs for \
             the reason.",
            "Microsoft Entra ID でこのユーザーのサインインがブロックされているか、アカウントが無効になっているか、\
             パスワードの有効期限が切れています。Microsoft 365 管理センター →「ユーザー」→\
             「アクティブなユーザー」で対象ユーザーを選んでサインインのブロックを解除し（または Microsoft Entra \
             管理センター →「ユーザー」→ 対象ユーザー →「プロパティ」で「アカウントが有効」にし）、パスワードが\
             期限切れならリセットして、サインイン ログで原因を確認してください。",
        ),
        (AuthAccountLocked, Gmail) => t(
            "The Google account or Workspace user is suspended or disabled. In the Google Admin \
             console → Directory → Users, check the user's status and reactivate it; for a personal \
             account, sign in at https://accounts.google.com and follow the recovery steps.",
            "Google アカウントまたは Workspace のユーザーが停止または無効になっています。Google 管理コンソール →\
             「ディレクトリ」→「ユーザー」でユーザーの状態を確認して再有効化してください。個人アカウントの場合は \
             https://accounts.google.com にサインインし、表示される復旧手順に従ってください。",
        ),
        (AuthMfaRequired, Microsoft) => t(
            "Security defaults or a per-user MFA requirement block password sign-ins for this \
             mailbox (\"user is locked by your organization's security defaults policy\"). Switch \
             the account to OAuth2 and run `mailbeat reauth TARGET`, so the MFA happens once in the \
             browser. Turning security defaults off (Microsoft Entra admin center → Overview → \
             Properties → Manage security defaults) weakens the whole tenant: do it only where \
             Conditional Access policies replace them.",
            "セキュリティの既定値群、またはユーザー単位の MFA の要件によって、このメールボックスへの\
             パスワードでのサインインがブロックされています（「user is locked by your organization's security \
             defaults policy」）。アカウントを OAuth2 に切り替えて `mailbeat reauth TARGET` を実行し、ブラウザで\
             一度だけ MFA を済ませてください。セキュリティの既定値群を無効にする（Microsoft Entra 管理センター →\
             「概要」→「プロパティ」→「セキュリティの既定値群の管理」）とテナント全体の保護が弱くなるため、\
             条件付きアクセス ポリシーで置き換える場合に限ってください。",
        ),
        (AuthConditionalAccessBlocked, Microsoft) => t(
            "A Microsoft Entra Conditional Access policy (or security defaults) blocked the sign-in \
             (\"the request did not meet the criteria to be authenticated successfully\"). Find the \
             failed sign-in in Microsoft Entra admin center → Sign-in logs and open its Conditional \
             Access tab to see which policy applied. Then switch the account to OAuth2 and run \
             `mailbeat reauth TARGET` so the policy can be satisfied, or have the admin exclude this \
             account, or allow the agent's network as a named location, in that policy.",
            "Microsoft Entra の条件付きアクセス ポリシー（またはセキュリティの既定値群）がサインインを\
             ブロックしました（「the request did not meet the criteria to be authenticated successfully」）。\
             Microsoft Entra 管理センターの「サインイン ログ」で失敗したサインインを開き、「条件付きアクセス」\
             タブでどのポリシーが適用されたかを確認してください。そのうえで、アカウントを OAuth2 に切り替えて \
             `mailbeat reauth TARGET` を実行しポリシーを満たすか、管理者にそのポリシーでこのアカウントを除外して\
             もらうか、エージェントのネットワークをネームド ロケーションとして許可してもらってください。",
        ),

        // ---- oauth ----
        // Every oauth text says both ways to re-authorize: `mailbeat reauth TARGET`, and the
        // re-authorize link of the status page, /reauth/TARGET, which the webhooks carry.
        (OauthRefreshTokenExpired, Gmail) => t(
            "The Google refresh token has expired. Run `mailbeat reauth TARGET`, or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET; the webhook carries the \
             same link). Google expires refresh tokens after 7 days while the OAuth app is in \
             \"Testing\", and after 6 months without use: in Google Cloud console → Google Auth \
             Platform → Audience (formerly OAuth consent screen), publish the app (\"In \
             production\") to end the weekly expiry, and keep the `token` probe enabled so the \
             token is used.",
            "Google のリフレッシュ トークンの有効期限が切れました。`mailbeat reauth TARGET` を実行するか、\
             mailbeat のステータスページの再認可リンク（/reauth/TARGET。Webhook も同じリンクを通知します）を\
             開いてください。OAuth アプリの公開ステータスが「テスト」のあいだ、Google はリフレッシュ トークンを \
             7 日で失効させ、6 か月間使われなかったトークンも失効させます。Google Cloud コンソール →\
             「Google Auth Platform」→「対象」（旧「OAuth 同意画面」）でアプリを公開（「本番環境」）にすれば\
             毎週の失効はなくなります。また、トークンが使われ続けるよう `token` プローブを有効にしておいて\
             ください。",
        ),
        (OauthRefreshTokenExpired, Microsoft) => t(
            "The Microsoft refresh token has expired: they expire after 90 days without use, or \
             sooner under a Conditional Access sign-in frequency policy. Run `mailbeat reauth \
             TARGET`, or open the re-authorize link on mailbeat's status page (/reauth/TARGET; the \
             webhook carries the same link). mailbeat refreshes well within the 90 days and stores \
             the new refresh token each time, so keep the `token` probe enabled; if it recurs on a \
             fixed schedule, check the sign-in frequency of the Conditional Access policies that \
             apply to this user.",
            "Microsoft のリフレッシュ トークンの有効期限が切れました。リフレッシュ トークンは 90 日間使われないと\
             失効し、条件付きアクセスのサインインの頻度ポリシーがあればそれより早く失効します。\
             `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク（/reauth/TARGET。\
             Webhook も同じリンクを通知します）を開いてください。mailbeat は 90 日より十分短い間隔で更新し、\
             そのたびに新しいリフレッシュ トークンを保存するため、`token` プローブを有効にしておいてください。\
             一定の周期で繰り返す場合は、このユーザーに適用される条件付きアクセス ポリシーのサインインの頻度を\
             確認してください。",
        ),
        (OauthRefreshTokenRevoked, Gmail) => t(
            "Google revoked the refresh token: tokens with Gmail scopes are revoked when the account \
             password changes, when access is removed at https://myaccount.google.com/permissions \
             (or by a Workspace admin), and, without notice, when the account holds more than 100 \
             refresh tokens for the same OAuth client. Run `mailbeat reauth TARGET`, or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET; the webhook carries the \
             same link).",
            "Google がリフレッシュ トークンを取り消しました。Gmail のスコープを持つトークンは、アカウントの\
             パスワードが変更されたとき、https://myaccount.google.com/permissions（または Workspace の管理者）で\
             アクセス権が削除されたとき、そして同じ OAuth クライアントのリフレッシュ トークンが 100 個を超えたとき\
             （通知なしに）取り消されます。`mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの\
             再認可リンク（/reauth/TARGET。Webhook も同じリンクを通知します）を開いてください。",
        ),
        (OauthRefreshTokenRevoked, Microsoft) => t(
            "Microsoft revoked the token: refresh tokens are revoked when the password is changed \
             or reset and when an admin revokes the user's sessions (Microsoft Entra admin center → \
             Users → the user → Revoke sessions). Run `mailbeat reauth TARGET`, or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET; the webhook carries the \
             same link).",
            "Microsoft がトークンを取り消しました。リフレッシュ トークンは、パスワードの変更やリセット、管理者に\
             よるセッションの取り消し（Microsoft Entra 管理センター →「ユーザー」→ 対象ユーザー →\
             「セッションの取り消し」）によって無効になります。`mailbeat reauth TARGET` を実行するか、mailbeat の\
             ステータスページの再認可リンク（/reauth/TARGET。Webhook も同じリンクを通知します）を開いて\
             ください。",
        ),
        (OauthConsentRequired, Gmail) => t(
            "The Google token does not grant mail access for this account: it must carry the scope \
             https://mail.google.com/ and belong to this target's user. In a Google Workspace domain \
             the admin may have to trust the app first: Admin console → Security → Access and data \
             control → API controls → Manage third-party app access. Then run `mailbeat reauth \
             TARGET`, or open the re-authorize link on mailbeat's status page (/reauth/TARGET), sign \
             in as that user and allow full mail access.",
            "この Google のトークンでは、このアカウントのメールにアクセスできません。トークンにはスコープ \
             https://mail.google.com/ が含まれ、かつこのターゲットのユーザーのものである必要があります。\
             Google Workspace のドメインでは、先に管理者がアプリを信頼済みにする必要がある場合があります\
             （管理コンソール →「セキュリティ」→「アクセスとデータ管理」→「API の制御」→「サードパーティ製\
             アプリのアクセスを管理」）。その後 `mailbeat reauth TARGET` を実行するか、mailbeat のステータス\
             ページの再認可リンク（/reauth/TARGET）を開き、そのユーザーでサインインしてメールへのフル\
             アクセスを許可してください。",
        ),
        (OauthConsentRequired, Microsoft) => t(
            "The app lacks consent for mail access. It needs the delegated permissions \
             IMAP.AccessAsUser.All, POP.AccessAsUser.All or SMTP.Send plus offline_access; where \
             users may not consent themselves (AADSTS65001, AADSTS90094) an admin must grant it: \
             Microsoft Entra admin center → App registrations → the app → API permissions → Grant \
             admin consent. Then run `mailbeat reauth TARGET`, or open the re-authorize link on \
             mailbeat's status page (/reauth/TARGET), and sign in as this target's user.",
            "アプリにメールへのアクセスの同意がありません。委任されたアクセス許可 IMAP.AccessAsUser.All、\
             POP.AccessAsUser.All または SMTP.Send と offline_access が必要です。ユーザー自身が同意できない\
             設定の場合（AADSTS65001、AADSTS90094）は、管理者が Microsoft Entra 管理センター →\
             「アプリの登録」→ 対象のアプリ →「API のアクセス許可」→「管理者の同意を与えます」で同意を付与する\
             必要があります。その後 `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの\
             再認可リンク（/reauth/TARGET）を開き、このターゲットのユーザーでサインインしてください。",
        ),
        (OauthClientSecretExpired, Gmail) => t(
            "Google client secrets do not expire by themselves, but one that was reset, disabled or \
             deleted stops working. In Google Cloud console → Google Auth Platform → Clients → the \
             client, add a secret, copy it into the account's `client_secret_file` and reload \
             mailbeat; the stored refresh token works again with it. Only if the check still fails, \
             run `mailbeat reauth TARGET` or open the re-authorize link on mailbeat's status page \
             (/reauth/TARGET).",
            "Google のクライアント シークレットは自然に失効することはありませんが、リセット・無効化・削除された\
             シークレットは使えなくなります。Google Cloud コンソール →「Google Auth Platform」→\
             「クライアント」→ 対象のクライアントでシークレットを追加し、アカウントの `client_secret_file` に\
             書き込んで mailbeat をリロードしてください。保存済みのリフレッシュ トークンはそのまま使えます。\
             それでもチェックが失敗する場合に限り、`mailbeat reauth TARGET` を実行するか、mailbeat の\
             ステータスページの再認可リンク（/reauth/TARGET）を開いてください。",
        ),
        (OauthClientSecretExpired, Microsoft) => t(
            "The app's client secret has expired (AADSTS7000222). In Microsoft Entra admin center → \
             App registrations → the app → Certificates & secrets → New client secret, copy the \
             secret's Value (not its Secret ID) into the account's `client_secret_file`, reload \
             mailbeat, and delete the old secret; the stored refresh token works again with it. \
             Secrets last at most 24 months: note the new expiry date. Only if the check still \
             fails, run `mailbeat reauth TARGET` or open the re-authorize link on mailbeat's status \
             page (/reauth/TARGET).",
            "アプリのクライアント シークレットの有効期限が切れています（AADSTS7000222）。Microsoft Entra \
             管理センター →「アプリの登録」→ 対象のアプリ →「証明書とシークレット」→「新しいクライアント \
             シークレット」で作成し、その「値」（「シークレット ID」ではありません）をアカウントの \
             `client_secret_file` に書き込んで mailbeat をリロードし、古いシークレットを削除してください。\
             保存済みのリフレッシュ トークンはそのまま使えます。シークレットの有効期間は最長 24 か月なので、\
             新しい有効期限を控えておいてください。それでもチェックが失敗する場合に限り、\
             `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET）を開いてください。",
        ),
        (OauthInvalidClient, Microsoft) => t(
            "Microsoft does not recognise the client (AADSTS700016: application not found in the \
             directory; AADSTS7000215: invalid client secret). In Microsoft Entra admin center → App \
             registrations, check that the app exists in the right tenant, that `client_id` is its \
             Application (client) ID, and that `client_secret_file` holds a current secret Value \
             (not the Secret ID). If the app had to be registered anew, its tokens are new too: run \
             `mailbeat reauth TARGET` or open the re-authorize link on mailbeat's status page \
             (/reauth/TARGET).",
            "Microsoft がクライアントを認識できません（AADSTS700016：ディレクトリにアプリケーションが\
             見つからない、AADSTS7000215：クライアント シークレットが無効）。Microsoft Entra 管理センターの\
             「アプリの登録」で、アプリが正しいテナントに存在するか、`client_id` がその「アプリケーション \
             (クライアント) ID」か、`client_secret_file` に有効なシークレットの「値」（「シークレット ID」では\
             ありません）が入っているかを確認してください。アプリを登録し直した場合はトークンも新しく必要です。\
             `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET）を開いてください。",
        ),
        (OauthInvalidClient, Gmail) => t(
            "Google does not recognise the OAuth client. In Google Cloud console → Google Auth \
             Platform → Clients, check that the OAuth client still exists and that `client_id` and \
             the content of `client_secret_file` match it. If you had to create a new client, its \
             tokens are new too: run `mailbeat reauth TARGET` or open the re-authorize link on \
             mailbeat's status page (/reauth/TARGET).",
            "Google が OAuth クライアントを認識できません。Google Cloud コンソール →「Google Auth Platform」→\
             「クライアント」で OAuth クライアントがまだ存在するか、`client_id` と `client_secret_file` の内容が\
             それと一致しているかを確認してください。クライアントを作り直した場合はトークンも新しく必要です。\
             `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET）を開いてください。",
        ),
        (OauthTokenExpiring, Gmail) => t(
            "The Google refresh token will expire soon. Run `mailbeat reauth TARGET`, or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET; the webhook carries the \
             same link), before it does. While the Google OAuth app is in \"Testing\" its refresh \
             tokens last only 7 days: publish it (\"In production\") in Google Cloud console → \
             Google Auth Platform → Audience to stop the weekly re-authorization.",
            "Google のリフレッシュ トークンの有効期限が近づいています。失効する前に `mailbeat reauth TARGET` を\
             実行するか、mailbeat のステータスページの再認可リンク（/reauth/TARGET。Webhook も同じリンクを\
             通知します）を開いてください。Google の OAuth アプリが「テスト」のあいだはリフレッシュ トークンの\
             有効期間が 7 日しかありません。Google Cloud コンソール →「Google Auth Platform」→「対象」で\
             アプリを公開（「本番環境」）にすれば、毎週の再認可は不要になります。",
        ),
        (OauthTokenExpiring, Microsoft) => t(
            "The Microsoft refresh token is predicted to expire soon: at a Conditional Access \
             sign-in frequency (the account's `refresh_token_lifetime`), or 90 days after its last \
             use. A refresh by the `token` probe resets the 90 days, so check that the probe runs \
             for this account; for a sign-in frequency, re-authorize before the end: run `mailbeat \
             reauth TARGET`, or open the re-authorize link on mailbeat's status page \
             (/reauth/TARGET; the webhook carries the same link).",
            "Microsoft のリフレッシュ トークンがまもなく失効すると予測されます。条件付きアクセスのサインインの\
             頻度（アカウントの `refresh_token_lifetime`）に達するか、最後に使われてから 90 日が経つためです。\
             `token` プローブが更新すれば 90 日の期限はリセットされるので、このアカウントでプローブが動いているか\
             確認してください。サインインの頻度による場合は、期限の前に再認可してください。\
             `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET。Webhook も同じリンクを通知します）を開きます。",
        ),
        (OauthEndpointError, Gmail) => t(
            "Google's token endpoint (oauth2.googleapis.com) failed or could not be reached. This is \
             usually temporary, and re-authorizing (`mailbeat reauth TARGET` or /reauth/TARGET on \
             the status page) does not help. If it persists, check that the agent reaches \
             oauth2.googleapis.com on port 443 through any proxy or firewall, and look at \
             https://www.google.com/appsstatus.",
            "Google のトークン エンドポイント（oauth2.googleapis.com）がエラーを返したか、到達できませんでした。\
             通常は一時的なもので、再認可（`mailbeat reauth TARGET` またはステータスページの /reauth/TARGET）\
             では解決しません。続く場合は、エージェントからプロキシやファイアウォールを経由して \
             oauth2.googleapis.com の 443 番ポートに到達できるかを確認し、https://www.google.com/appsstatus を\
             確認してください。",
        ),
        (OauthEndpointError, Microsoft) => t(
            "Microsoft's token endpoint (login.microsoftonline.com) failed or could not be reached. \
             This is usually temporary, and re-authorizing (`mailbeat reauth TARGET` or \
             /reauth/TARGET on the status page) does not help. If it persists, check that the agent \
             reaches login.microsoftonline.com on port 443 through any proxy or firewall, and look \
             at Service health in the Microsoft 365 admin center (or https://status.cloud.microsoft).",
            "Microsoft のトークン エンドポイント（login.microsoftonline.com）がエラーを返したか、到達できません\
             でした。通常は一時的なもので、再認可（`mailbeat reauth TARGET` またはステータスページの \
             /reauth/TARGET）では解決しません。続く場合は、エージェントからプロキシやファイアウォールを経由して \
             login.microsoftonline.com の 443 番ポートに到達できるかを確認し、Microsoft 365 管理センターの\
             「サービス正常性」（または https://status.cloud.microsoft）を確認してください。",
        ),

        // ---- server ----
        (ServerUnavailable, Gmail) => t(
            "Google reported a temporary failure (for example 454 4.7.0 Cannot authenticate due to \
             temporary system problem). It usually clears by itself; if it persists, check \
             https://www.google.com/appsstatus before changing anything.",
            "Google が一時的な障害を報告しました（例：454 4.7.0 Cannot authenticate due to temporary system \
             problem）。通常は自然に回復します。続く場合は、設定を変える前に \
             https://www.google.com/appsstatus で障害情報を確認してください。",
        ),
        (ServerUnavailable, Microsoft) => t(
            "Microsoft reported a temporary failure. It usually clears by itself; if it persists, \
             check Service health in the Microsoft 365 admin center (or \
             https://status.cloud.microsoft) before changing anything.",
            "Microsoft が一時的な障害を報告しました。通常は自然に回復します。続く場合は、設定を変える前に \
             Microsoft 365 管理センターの「サービス正常性」（または https://status.cloud.microsoft）で障害情報を\
             確認してください。",
        ),
        (RateLimited, Gmail) => t(
            "Gmail is limiting this account: at most 15 simultaneous IMAP connections per account, \
             and a limit on logins per hour. Close idle sessions of other clients, check less often \
             (`every: 5m` or longer), and wait for the limit to reset.",
            "Gmail がこのアカウントを制限しています。IMAP の同時接続はアカウントあたり最大 15 で、1 時間あたりの\
             ログイン回数にも上限があります。他のクライアントの使われていないセッションを閉じ、チェックの間隔を\
             長くして（`every: 5m` 以上）、制限が解除されるのを待ってください。",
        ),

        _ => return None,
    };
    Some(text)
}

/// The advice for any provider, for every reason.
fn generic(reason: Reason) -> Text {
    use Reason::*;
    match reason {
        // ---- network ----
        DnsFailure => t(
            "The server's host name does not resolve. Check the target's `host` for typos and that \
             the DNS record (A/AAAA) exists, and test the agent machine's resolver with `dig HOST` \
             or `getent hosts HOST`.",
            "サーバーのホスト名を名前解決できません。ターゲットの `host` に誤字がないか、DNS レコード\
             （A/AAAA）が存在するかを確認し、エージェントのマシンで `dig HOST` または `getent hosts HOST` を\
             実行してリゾルバが動作しているか確かめてください。",
        ),
        ConnectionRefused => t(
            "The host answered but nothing accepts connections on this port. Check the target's \
             port (submission 587 or 465, IMAP 993 or 143, POP3 995 or 110), that the mail service \
             is running and listening on it (`ss -ltnp` on the server), and that no firewall \
             rejects the agent's address.",
            "ホストには到達しましたが、このポートでは接続を受け付けていません。ターゲットのポート番号\
             （サブミッションは 587 または 465、IMAP は 993 または 143、POP3 は 995 または 110）が正しいか、\
             メールサービスが起動してそのポートで待ち受けているか（サーバー上で `ss -ltnp`）、ファイアウォールが\
             エージェントのアドレスを拒否していないかを確認してください。",
        ),
        ConnectionTimeout => t(
            "The connection attempt timed out: packets are dropped on the way. Check the firewalls \
             and security groups on both sides. Many cloud and residential networks block outgoing \
             port 25; use the submission port 587 or 465 instead. Test from the agent machine with \
             `nc -vz HOST PORT`.",
            "接続がタイムアウトしました。経路上でパケットが破棄されています。双方のファイアウォールや\
             セキュリティグループを確認してください。多くのクラウドや家庭向け回線では送信方向の 25 番ポートが\
             遮断されているため、サブミッションポートの 587 または 465 を使ってください。エージェントのマシン\
             から `nc -vz HOST PORT` で疎通を確認できます。",
        ),
        NetworkUnreachable => t(
            "The agent machine has no route to the server's address. Check the agent's network and \
             default route. If the host resolves to an IPv6 address and the agent has no IPv6 \
             connectivity, connect over IPv4 (set `host` to the IPv4 address and `tls_server_name` \
             to the host name) or fix the IPv6 routing.",
            "エージェントのマシンからサーバーのアドレスへの経路がありません。エージェントのネットワーク設定と\
             デフォルトルートを確認してください。ホスト名が IPv6 アドレスに解決されるのにエージェントが IPv6 で\
             通信できない場合は、IPv4 で接続する（`host` に IPv4 アドレス、`tls_server_name` にホスト名を\
             指定する）か、IPv6 の経路を修正してください。",
        ),

        // ---- protocol ----
        BadGreeting => t(
            "The server's first line was not a valid SMTP, IMAP or POP3 greeting. Usually the TLS \
             mode does not match the port: use `tls: implicit` for 465, 993 and 995 and \
             `tls: starttls` for 587, 143 and 110. Otherwise another service or a proxy listens on \
             this port; look with `openssl s_client -connect HOST:PORT` or `nc HOST PORT`.",
            "サーバーの最初の応答が、SMTP・IMAP・POP3 の正しいグリーティングではありません。多くの場合、TLS \
             モードとポートの組み合わせが合っていません。465・993・995 番には `tls: implicit`、587・143・110 番\
             には `tls: starttls` を指定してください。そうでなければ、別のサービスやプロキシがこのポートで\
             待ち受けています。`openssl s_client -connect HOST:PORT` や `nc HOST PORT` で確認してください。",
        ),
        ProtocolError => t(
            "The server answered in a way mailbeat did not expect at this step. Compare the message \
             with the server's logs; if the server behaves correctly, run the check with \
             `--log.level=debug` and report the dialogue (it never contains the password) so the \
             probe can be fixed.",
            "この段階で、サーバーから mailbeat が想定していない応答がありました。メッセージの内容をサーバー側の\
             ログと照らし合わせてください。サーバーの動作に問題がない場合は、`--log.level=debug` を付けて\
             チェックを実行し、そのやり取り（パスワードは含まれません）を添えて報告してください。",
        ),
        ServerTimeout => t(
            "The server accepted the connection but did not answer in time. It may be overloaded, \
             or it delays clients on purpose (greeting delays, tarpitting after failed logins, \
             postscreen). Check the server's load and logs; if slow answers are normal for this \
             server, raise the target's `timeout`.",
            "サーバーは接続を受け付けましたが、時間内に応答しませんでした。サーバーが過負荷になっているか、\
             意図的に応答を遅らせている（グリーティングの遅延、ログイン失敗後のターピット、postscreen など）\
             可能性があります。サーバーの負荷とログを確認し、このサーバーでは応答が遅いのが普通であれば、\
             ターゲットの `timeout` を長くしてください。",
        ),
        StarttlsNotOffered => t(
            "The server does not offer STARTTLS on this port, so credentials would travel in clear \
             text. Enable TLS on the server (Postfix: `smtpd_tls_security_level = may` with \
             `smtpd_tls_chain_files`; Dovecot: `ssl = yes` with a certificate), or use the \
             implicit-TLS port (465, 993, 995) with `tls: implicit`. If the server does offer it, a \
             firewall that inspects SMTP may be stripping STARTTLS from the EHLO reply.",
            "このポートではサーバーが STARTTLS を提供していないため、認証情報が平文で流れてしまいます。\
             サーバー側で TLS を有効にする（Postfix は `smtpd_tls_security_level = may` と \
             `smtpd_tls_chain_files`、Dovecot は `ssl = yes` と証明書の設定）か、暗黙的 TLS のポート\
             （465、993、995）を `tls: implicit` で使ってください。サーバーが STARTTLS を提供しているはずなのに\
             この結果になる場合は、SMTP を検査するファイアウォールが EHLO の応答から STARTTLS を取り除いている\
             可能性があります。",
        ),
        StarttlsRequired => t(
            "The server refuses to authenticate over an unencrypted connection. Configure the \
             target with TLS: port 587 (SMTP), 143 (IMAP) or 110 (POP3) with `tls: starttls`, or \
             port 465, 993 or 995 with `tls: implicit`.",
            "サーバーは暗号化されていない接続での認証を拒否しています。ターゲットで TLS を使うように設定して\
             ください。587 番（SMTP）・143 番（IMAP）・110 番（POP3）なら `tls: starttls`、465・993・995 番なら \
             `tls: implicit` を指定します。",
        ),

        // ---- tls ----
        TlsHandshakeFailed => t(
            "The TLS handshake failed before any certificate was checked: no common TLS version or \
             cipher, a TLS mode that does not match the port, or a server-side TLS configuration \
             error. Reproduce it with `openssl s_client -connect HOST:PORT -servername NAME` (add \
             `-starttls smtp`, `-starttls imap` or `-starttls pop3` on STARTTLS ports), read the \
             server's TLS errors in its log, and enable TLS 1.2 or 1.3 on the server.",
            "証明書の検証に入る前に TLS ハンドシェイクが失敗しました。共通の TLS バージョンや暗号スイートがない、\
             TLS モードがポートと合っていない、あるいはサーバー側の TLS 設定の誤りが考えられます。\
             `openssl s_client -connect HOST:PORT -servername NAME`（STARTTLS のポートでは `-starttls smtp`、\
             `-starttls imap`、`-starttls pop3` を追加）で再現し、サーバーのログで TLS のエラーを確認して、\
             サーバーで TLS 1.2 または 1.3 を有効にしてください。",
        ),
        TlsCertExpired => t(
            "The server's certificate has expired. Renew it (Let's Encrypt: `certbot renew`), \
             install it, and reload the mail services so they use it (`systemctl reload postfix \
             dovecot`). A renewed certificate that is still not served means the daemons were not \
             reloaded: add a deploy hook that reloads them.",
            "サーバー証明書の有効期限が切れています。証明書を更新して（Let's Encrypt なら `certbot renew`）\
             配置し、メールサービスをリロードして読み込ませてください（`systemctl reload postfix dovecot`）。\
             更新したのに古い証明書が返される場合は、デーモンがリロードされていません。更新時にリロードする\
             デプロイフックを追加してください。",
        ),
        TlsCertNotYetValid => t(
            "The certificate is not valid yet. Either the agent machine's clock is behind (check \
             `timedatectl` and NTP), or the server got a certificate whose validity starts in the \
             future; check the server's clock and the certificate's dates with \
             `openssl x509 -noout -dates -in CERT`.",
            "証明書の有効期間がまだ始まっていません。エージェントのマシンの時計が遅れている（`timedatectl` と \
             NTP を確認）か、サーバーに有効期間の開始日が未来の証明書が設定されています。サーバーの時計と、\
             `openssl x509 -noout -dates -in CERT` で証明書の有効期間を確認してください。",
        ),
        TlsCertExpiring => t(
            "The server's certificate expires soon. Renew it now and reload the mail services after \
             installing it. If renewal is automated, find out why it has not happened yet \
             (`certbot renew --dry-run`, the systemd timer or cron job) and make sure a deploy hook \
             reloads Postfix and Dovecot.",
            "サーバー証明書の有効期限が近づいています。今のうちに更新し、配置後にメールサービスをリロードして\
             ください。自動更新している場合は、まだ更新されていない理由（`certbot renew --dry-run`、systemd \
             タイマーや cron の状態）を調べ、更新後に Postfix と Dovecot をリロードするデプロイフックがあるかを\
             確認してください。",
        ),
        TlsHostnameMismatch => t(
            "The certificate is not valid for the name mailbeat verified. Connect with a name the \
             certificate covers (change `host`, or set `tls_server_name` when connecting by IP \
             address or an alias), or reissue the certificate with this name in its \
             subjectAltName. List its names with `openssl s_client -connect HOST:PORT -servername \
             NAME | openssl x509 -noout -ext subjectAltName`.",
            "証明書が、mailbeat が検証した名前に対して有効ではありません。証明書に含まれる名前で接続する\
             （`host` を変えるか、IP アドレスや別名で接続する場合は `tls_server_name` を指定する）か、この名前を \
             subjectAltName に含めて証明書を再発行してください。証明書に含まれる名前は \
             `openssl s_client -connect HOST:PORT -servername NAME | openssl x509 -noout -ext subjectAltName` \
             で確認できます。",
        ),
        TlsChainIncomplete => t(
            "The server sends its certificate without the intermediate certificate(s), so clients \
             that do not already have the intermediate cannot verify it. Configure the server to \
             send the full chain: Dovecot `ssl_cert = </etc/letsencrypt/live/NAME/fullchain.pem` \
             (Dovecot 2.4: `ssl_server_cert_file`), Postfix `smtpd_tls_chain_files = \
             /etc/letsencrypt/live/NAME/privkey.pem, /etc/letsencrypt/live/NAME/fullchain.pem`, \
             never cert.pem alone. Verify with `openssl s_client -connect HOST:PORT -servername \
             NAME` (add `-starttls smtp` or `-starttls imap` on STARTTLS ports) and look for \
             \"Verify return code: 0 (ok)\".",
            "サーバーが中間証明書を含めずに自身の証明書だけを送っているため、中間証明書を持っていない\
             クライアントは検証できません。完全なチェーンを送るようにサーバーを設定してください。Dovecot は \
             `ssl_cert = </etc/letsencrypt/live/NAME/fullchain.pem`（Dovecot 2.4 では `ssl_server_cert_file`）、\
             Postfix は `smtpd_tls_chain_files = /etc/letsencrypt/live/NAME/privkey.pem, \
             /etc/letsencrypt/live/NAME/fullchain.pem` とし、cert.pem だけを指定しないでください。\
             `openssl s_client -connect HOST:PORT -servername NAME`（STARTTLS のポートでは `-starttls smtp` や \
             `-starttls imap` を追加）で確認し、「Verify return code: 0 (ok)」と表示されることを確かめて\
             ください。",
        ),
        TlsUntrustedRoot => t(
            "The chain ends at a root certificate that is not in the trust store (the webpki \
             roots). If the server uses a private or corporate CA, save that CA's certificate as PEM \
             and set the target's `ca_file` to it. If the server should have a public certificate, \
             replace it with one from a public CA.",
            "証明書チェーンが、信頼ストア（webpki のルート証明書）にないルート証明書で終わっています。サーバーが\
             プライベート CA や社内 CA の証明書を使っている場合は、その CA 証明書を PEM で保存し、ターゲットの \
             `ca_file` に指定してください。公開された証明書を使うべきサーバーであれば、公的な CA が発行した\
             証明書に置き換えてください。",
        ),
        TlsSelfSigned => t(
            "The server presents a self-signed certificate, which no client can verify. Replace it \
             with a certificate from a CA (for example Let's Encrypt with certbot). If the \
             self-signed certificate is intended, trust it explicitly: save it as PEM and set the \
             target's `ca_file` to that file.",
            "サーバーが自己署名証明書を提示しており、どのクライアントも検証できません。CA が発行した証明書\
             （例：certbot による Let's Encrypt）に置き換えてください。自己署名証明書を意図して使っている場合は、\
             その証明書を PEM で保存し、ターゲットの `ca_file` に指定して明示的に信頼させてください。",
        ),
        TlsWeak => t(
            "The server negotiated an outdated TLS version, cipher or key. Allow only TLS 1.2 and \
             1.3 (Postfix: `smtpd_tls_protocols = >=TLSv1.2` and `smtpd_tls_mandatory_protocols = \
             >=TLSv1.2`; Dovecot: `ssl_min_protocol = TLSv1.2`) and use an RSA key of at least 2048 \
             bits or an ECDSA key. Check with `openssl s_client -connect HOST:PORT -tls1_2`.",
            "サーバーが古い TLS バージョン、暗号スイート、または鍵でネゴシエートしました。TLS 1.2 と 1.3 だけを\
             許可し（Postfix は `smtpd_tls_protocols = >=TLSv1.2` と `smtpd_tls_mandatory_protocols = >=TLSv1.2`、\
             Dovecot は `ssl_min_protocol = TLSv1.2`）、2048 ビット以上の RSA 鍵か ECDSA 鍵を使ってください。\
             `openssl s_client -connect HOST:PORT -tls1_2` で確認できます。",
        ),

        // ---- auth ----
        AuthBadCredentials => t(
            "The server rejected the user name or password. Check `username` (many servers want the \
             full mail address) and the content of the account's `password_file` (watch for stray \
             spaces), and try the same credentials once by hand. mailbeat backs off after a \
             rejection so that it does not get the account locked.",
            "サーバーがユーザー名またはパスワードを拒否しました。`username`（多くのサーバーではメールアドレス\
             全体が必要です）と、アカウントの `password_file` の内容（余分な空白がないか）を確認し、同じ認証情報で\
             一度だけ手動でログインを試してください。mailbeat はアカウントがロックされないよう、拒否された後は\
             チェックの間隔を空けます。",
        ),
        AuthAppPasswordRequired => t(
            "The server requires an app-specific password instead of the account's normal password \
             (usually because multi-factor authentication is on). Create an app password in the \
             account's security settings at the provider and put it in the account's \
             `password_file`, or switch the account to OAuth2 if the server supports it.",
            "サーバーは、アカウントの通常のパスワードではなくアプリ専用のパスワードを要求しています（多要素認証が\
             有効になっているのが普通の理由です）。プロバイダのアカウントのセキュリティ設定でアプリ パスワードを\
             作成してアカウントの `password_file` に書き込むか、サーバーが対応していればアカウントを OAuth2 に\
             切り替えてください。",
        ),
        AuthWebLoginRequired => t(
            "The provider blocks this sign-in until someone signs in from a web browser (a security \
             check after a new location or suspicious activity). Sign in to the webmail as this \
             account from a browser, complete the check, then let the next check run; if it keeps \
             happening, switch the account to OAuth2 and run `mailbeat reauth TARGET`.",
            "ブラウザからサインインされるまで、プロバイダがこのログインをブロックしています（新しい場所からの\
             アクセスや不審なアクティビティを受けたセキュリティ確認です）。このアカウントでブラウザから Web メールに\
             サインインして確認を完了し、次のチェックを待ってください。繰り返し起きる場合は、アカウントを OAuth2 に\
             切り替えて `mailbeat reauth TARGET` を実行してください。",
        ),
        AuthProtocolDisabled => t(
            "The account is not allowed to use this protocol: the server or its administrator has \
             turned off IMAP, POP3 or SMTP authentication for it. Enable the protocol for the \
             account in the mail server's or provider's admin settings (for Dovecot, check \
             `protocols` and per-user restrictions in the user database), or monitor the account \
             over a protocol that is enabled.",
            "このアカウントはこのプロトコルを使えません。サーバーまたはその管理者が、このアカウントの IMAP・POP3・\
             SMTP 認証を無効にしています。メールサーバーやプロバイダの管理設定でこのアカウントのプロトコルを\
             有効にする（Dovecot なら `protocols` とユーザーデータベースのユーザー単位の制限を確認する）か、\
             有効になっている別のプロトコルで監視してください。",
        ),
        AuthBasicAuthDisabled => t(
            "The server no longer accepts a user name and password (basic authentication) for this \
             protocol and requires modern authentication. Switch the account to OAuth2: configure \
             `oauth` for the account (client ID, client secret file, token) and run \
             `mailbeat reauth TARGET`.",
            "サーバーはこのプロトコルでユーザー名とパスワードによる認証（基本認証）を受け付けなくなり、\
             先進認証を要求しています。アカウントを OAuth2 に切り替えてください。アカウントに `oauth`\
             （クライアント ID、クライアント シークレットのファイル、トークン）を設定し、`mailbeat reauth TARGET` を\
             実行します。",
        ),
        AuthMechanismUnsupported => t(
            "The server does not offer the authentication mechanism mailbeat tried, or offers no \
             authentication at all on this port. If the account sets `mechanism`, remove it or pick \
             one the server lists after EHLO (SMTP `AUTH`) or in its CAPABILITY (IMAP `AUTH=`). The \
             port 25 of a receiving MX usually has no AUTH: use the submission port 587 or 465. Many \
             servers offer AUTH only after STARTTLS.",
            "mailbeat が試した認証方式をサーバーが提供していないか、このポートでは認証そのものを提供していません。\
             アカウントで `mechanism` を指定している場合は、削除するか、サーバーが EHLO の応答（SMTP の `AUTH`）\
             や CAPABILITY（IMAP の `AUTH=`）で示している方式を選んでください。受信用 MX の 25 番ポートには\
             通常 AUTH がありません。サブミッションポートの 587 または 465 を使ってください。多くのサーバーは \
             STARTTLS の後でしか AUTH を提供しません。",
        ),
        AuthTooManyAttempts => t(
            "The server refuses logins for now because of too many failed attempts for this account \
             or from this address. Find what keeps sending a wrong password (an old client, a \
             script, or this target's `password_file`), fix it, and wait for the lockout to expire; \
             on your own server check fail2ban (`fail2ban-client status`) and the authentication \
             log. mailbeat backs off by itself after such a refusal.",
            "このアカウント、またはこのアドレスからのログイン失敗が多すぎるため、サーバーが現在ログインを拒否して\
             います。誤ったパスワードを送り続けているもの（古いクライアント、スクリプト、このターゲットの \
             `password_file` など）を特定して直し、ロックアウトが解除されるまで待ってください。自前のサーバーで\
             あれば fail2ban（`fail2ban-client status`）と認証ログを確認してください。mailbeat はこの拒否を\
             受けると自動的にチェックの間隔を空けます。",
        ),
        AuthAccountLocked => t(
            "The account is locked or disabled, or its password has expired, so no password will \
             work until someone fixes it. Ask the mail administrator to unlock or re-enable the \
             account, or change the expired password and update the account's `password_file`.",
            "アカウントがロックまたは無効化されているか、パスワードの有効期限が切れているため、誰かが対処するまで\
             どのパスワードでもログインできません。メール管理者にアカウントのロック解除や再有効化を依頼するか、\
             期限切れのパスワードを変更してアカウントの `password_file` を更新してください。",
        ),
        AuthMfaRequired => t(
            "The account must pass multi-factor authentication, which IMAP, POP3 and SMTP cannot do \
             with a password. Switch the account to OAuth2 and run `mailbeat reauth TARGET` (the MFA \
             happens once, in the browser), or use an app password if the provider offers one.",
            "このアカウントには多要素認証が必要ですが、IMAP・POP3・SMTP ではパスワードで多要素認証を行えません。\
             アカウントを OAuth2 に切り替えて `mailbeat reauth TARGET` を実行する（多要素認証はブラウザで一度だけ\
             行います）か、プロバイダが提供していればアプリ パスワードを使ってください。",
        ),
        AuthConditionalAccessBlocked => t(
            "A sign-in policy of the provider (location, device, risk or legacy-authentication \
             rules) blocked this login. Ask the administrator which policy applied, then either \
             allow this account from the agent's address or switch the account to OAuth2 and run \
             `mailbeat reauth TARGET` so that the policy can be satisfied.",
            "プロバイダのサインイン ポリシー（場所、デバイス、リスク、レガシー認証に関する規則）がこのログインを\
             ブロックしました。どのポリシーが適用されたかを管理者に確認し、エージェントのアドレスからのこの\
             アカウントのアクセスを許可してもらうか、アカウントを OAuth2 に切り替えて `mailbeat reauth TARGET` を\
             実行し、ポリシーを満たせるようにしてください。",
        ),

        // ---- oauth ----
        OauthRefreshTokenExpired => t(
            "The stored OAuth2 refresh token has expired, so mailbeat can no longer get access \
             tokens. Re-authorize the account: run `mailbeat reauth TARGET`, or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET; the webhook carries the \
             same link). If it recurs on a schedule, set the account's `refresh_token_lifetime` to \
             the provider's limit so that mailbeat warns before the next one ends.",
            "保存されている OAuth2 のリフレッシュ トークンの有効期限が切れたため、mailbeat はアクセス トークンを\
             取得できなくなりました。アカウントを再認可してください。`mailbeat reauth TARGET` を実行するか、\
             mailbeat のステータスページの再認可リンク（/reauth/TARGET。Webhook も同じリンクを通知します）を\
             開きます。一定の周期で繰り返す場合は、アカウントの `refresh_token_lifetime` をプロバイダの上限に\
             設定すると、次の失効の前に mailbeat が警告します。",
        ),
        OauthRefreshTokenRevoked => t(
            "The OAuth2 token was revoked or is no longer accepted (access removed by the user or an \
             administrator, password changed, or sessions revoked). Re-authorize the account: run \
             `mailbeat reauth TARGET`, or open the re-authorize link on mailbeat's status page \
             (/reauth/TARGET; the webhook carries the same link).",
            "OAuth2 のトークンが取り消されたか、受け付けられなくなりました（ユーザーや管理者によるアクセス権の\
             削除、パスワードの変更、セッションの取り消しなど）。アカウントを再認可してください。\
             `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET。Webhook も同じリンクを通知します）を開きます。",
        ),
        OauthConsentRequired => t(
            "The account has not granted, or no longer grants, the permission mailbeat needs, or the \
             token belongs to another account. Where users may not consent themselves, an \
             administrator must grant consent first. Then run `mailbeat reauth TARGET`, or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET; the webhook carries the \
             same link), sign in as this target's user, and accept the requested mail permissions.",
            "mailbeat に必要なアクセス許可にアカウントが同意していない（または同意が取り消された）か、トークンが\
             別のアカウントのものです。ユーザー自身が同意できない設定の場合は、先に管理者が同意を付与する必要が\
             あります。その後 `mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET。Webhook も同じリンクを通知します）を開き、このターゲットのユーザーでサインインして、\
             要求されるメールのアクセス許可に同意してください。",
        ),
        OauthClientSecretExpired => t(
            "The OAuth2 client secret has expired. Create a new secret for the app at the identity \
             provider, write it to the file named by the account's `client_secret_file`, and reload \
             mailbeat (`POST /-/reload` or SIGHUP); the stored refresh token usually works again \
             with it. Only if the check still fails, run `mailbeat reauth TARGET` or open the \
             re-authorize link on mailbeat's status page (/reauth/TARGET).",
            "OAuth2 のクライアント シークレットの有効期限が切れています。ID プロバイダでアプリの新しい\
             シークレットを作成し、アカウントの `client_secret_file` が指すファイルに書き込んで、mailbeat を\
             リロードしてください（`POST /-/reload` または SIGHUP）。通常は保存済みのリフレッシュ トークンが\
             そのまま使えます。それでもチェックが失敗する場合に限り、`mailbeat reauth TARGET` を実行するか、\
             mailbeat のステータスページの再認可リンク（/reauth/TARGET）を開いてください。",
        ),
        OauthInvalidClient => t(
            "The identity provider does not recognise the OAuth2 client: the client ID is wrong, the \
             secret does not belong to it, or the app was deleted or disabled. Check `client_id` and \
             the content of `client_secret_file` against the app registration at the provider, and \
             reload mailbeat. If the app had to be registered anew, its tokens are new too: run \
             `mailbeat reauth TARGET` or open the re-authorize link on mailbeat's status page \
             (/reauth/TARGET).",
            "ID プロバイダが OAuth2 クライアントを認識できません。クライアント ID が誤っている、シークレットが\
             そのクライアントのものではない、あるいはアプリが削除・無効化されています。`client_id` と \
             `client_secret_file` の内容をプロバイダ側のアプリの登録情報と照らし合わせ、mailbeat をリロードして\
             ください。アプリを登録し直した場合はトークンも新しく必要です。`mailbeat reauth TARGET` を実行するか、\
             mailbeat のステータスページの再認可リンク（/reauth/TARGET）を開いてください。",
        ),
        OauthTokenExpiring => t(
            "The refresh token is predicted to expire soon under the provider's policy. \
             Re-authorize before it does: run `mailbeat reauth TARGET`, or open the re-authorize \
             link on mailbeat's status page (/reauth/TARGET; the webhook carries the same link).",
            "プロバイダのポリシーから、リフレッシュ トークンがまもなく失効すると予測されます。失効する前に再認可して\
             ください。`mailbeat reauth TARGET` を実行するか、mailbeat のステータスページの再認可リンク\
             （/reauth/TARGET。Webhook も同じリンクを通知します）を開きます。",
        ),
        OauthEndpointError => t(
            "The identity provider's token endpoint failed or could not be reached. This is usually \
             temporary, and re-authorizing (`mailbeat reauth TARGET` or /reauth/TARGET on the status \
             page) does not help. If it persists, check that the agent can reach the endpoint \
             through any proxy or firewall (Microsoft: login.microsoftonline.com, Google: \
             oauth2.googleapis.com) and look at the provider's status page.",
            "ID プロバイダのトークン エンドポイントがエラーを返したか、到達できませんでした。通常は一時的なもので、\
             再認可（`mailbeat reauth TARGET` またはステータスページの /reauth/TARGET）では解決しません。続く\
             場合は、エージェントからプロキシやファイアウォールを経由してエンドポイント（Microsoft は \
             login.microsoftonline.com、Google は oauth2.googleapis.com）に到達できるかを確認し、プロバイダの\
             ステータスページを確認してください。",
        ),

        // ---- server ----
        ServerUnavailable => t(
            "The server reported a temporary failure (authentication backend unavailable, \
             maintenance, or the mailbox locked by another session). It usually clears by itself; \
             if it persists, check the server's authentication service and its logs (Dovecot: \
             `doveadm log errors`; the LDAP or SQL user database).",
            "サーバーが一時的な障害を報告しました（認証バックエンドが利用できない、メンテナンス中、別のセッションが\
             メールボックスをロックしているなど）。通常は自然に回復します。続く場合は、サーバーの認証サービスと\
             そのログ（Dovecot なら `doveadm log errors`、LDAP や SQL のユーザーデータベース）を確認して\
             ください。",
        ),
        RateLimited => t(
            "The server is limiting this account or address (too many connections or requests). \
             Check less often (`every: 5m` or longer), stop other clients from opening many parallel \
             connections, and let the limit reset.",
            "サーバーがこのアカウントまたはアドレスを制限しています（接続やリクエストが多すぎます）。チェックの\
             間隔を長くし（`every: 5m` 以上）、他のクライアントが多数の接続を並行して開かないようにして、制限が\
             解除されるのを待ってください。",
        ),

        // ---- delivery ----
        DeliveryRejected => t(
            "The relay refused the probe message at MAIL FROM, RCPT TO or DATA (the message shows \
             the hop and the server's words). Check that `from` is an address the account USER may \
             send as, that `to` exists and its mailbox is not full, and that the account has not \
             hit its sending limit; the probe backs off before it sends again.",
            "中継サーバーがプローブのメッセージを MAIL FROM、RCPT TO または DATA で拒否しました（どの段階か\
             とサーバーの応答はメッセージにあります）。`from` がアカウント USER で送信できるアドレスか、`to` が\
             存在しメールボックスが満杯でないか、アカウントが送信数の上限に達していないかを確認してください。\
             プローブは次の送信まで間隔を空けます。",
        ),
        DeliveryTimeout => t(
            "The relay accepted the probe message, but it did not arrive in the `via` mailbox (inbox \
             or junk folder) within `within`. Look for it in the relay's queue and logs (Postfix: \
             `mailq`, `grep` the probe id in the mail log), check the recipient's forwarding and \
             filter rules, and raise `within` if the path is only slow.",
            "中継サーバーはプローブのメッセージを受け付けましたが、`within` の時間内に `via` のメールボックス\
             （受信トレイまたは迷惑メールフォルダ）に届きませんでした。中継サーバーのキューとログ（Postfix なら \
             `mailq`、メールログでプローブ ID を `grep`）を確認し、受信者の転送やフィルタのルールを確認して\
             ください。経路が遅いだけなら `within` を長くしてください。",
        ),
        DeliveryJunk => t(
            "The probe message arrived, but in the junk folder: the device's alerts may go unread. \
             Read the message's Authentication-Results (in the details) and fix what fails: publish \
             an SPF record that covers the relay, sign with DKIM, and add a DMARC record for the \
             sender's domain; or add the sender to the recipient's safe senders.",
            "プローブのメッセージは届きましたが、迷惑メールフォルダに入りました。機器からの通知が読まれない\
             おそれがあります。詳細にある Authentication-Results を読み、失敗している項目を直してください。\
             中継サーバーを含む SPF レコードを公開し、DKIM で署名し、送信者ドメインに DMARC レコードを追加するか、\
             送信者を受信者の「信頼できる差出人」に追加してください。",
        ),

        // ---- agent ----
        PluginError => t(
            "The external probe plugin failed (crashed, timed out, or returned something invalid). \
             Check `mailbeat plugins` for its ABI version and whether it loaded, read the agent's \
             log for the plugin's error, and update or fix the plugin.",
            "外部プローブのプラグインが失敗しました（クラッシュ、タイムアウト、または不正な結果）。\
             `mailbeat plugins` で ABI バージョンと読み込み状態を確認し、エージェントのログでプラグインのエラーを\
             確認して、プラグインを更新または修正してください。",
        ),
        ConfigError => t(
            "The configuration for this target is incomplete or invalid (for example a missing or \
             unreadable secret file, or a server that requires authentication where the target has \
             no credentials). Run `mailbeat validate`, which names the file, line and key, and check \
             that the secret files exist and are readable by the agent's user.",
            "このターゲットの設定が不完全か誤っています（例：シークレットのファイルが存在しない・読めない、\
             認証が必要なサーバーなのにターゲットに認証情報がない）。ファイル名・行・キーを示す \
             `mailbeat validate` を実行し、シークレットのファイルが存在してエージェントの実行ユーザーから\
             読めることを確認してください。",
        ),
        InternalError => t(
            "mailbeat hit an internal error. Run the check again with `--log.level=debug` and report \
             the log (it contains no secrets) together with the version from `mailbeat_build_info`.",
            "mailbeat の内部でエラーが発生しました。`--log.level=debug` を付けてもう一度チェックを実行し、\
             そのログ（シークレットは含まれません）を `mailbeat_build_info` のバージョンとともに報告してください。",
        ),
        Unknown => t(
            "mailbeat could not classify the server's answer. Read the message, which holds the \
             server's own words, and act on what it says; please report the reply text so that it \
             can be added to the classification table.",
            "mailbeat はサーバーの応答を分類できませんでした。サーバー自身の言葉が入っているメッセージを読み、\
             その内容に従って対処してください。分類表に追加できるよう、応答の文面を報告してください。",
        ),
    }
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn the_targets_values_replace_whole_words_only() {
        let t = crate::Target {
            name: "nas".into(),
            protocol: None,
            host: "[2001:db8::1]".into(),
            port: Some(993),
            tls: crate::TlsMode::Implicit,
            tls_server_name: Some("imap.example.com".into()),
            ca_file: None,
            source_address: None,
            provider: None,
            account: None,
            labels: Default::default(),
            migration_domain: None,
        };
        assert_eq!(
            for_target_values("`dig HOST`, `openssl s_client -connect HOST:PORT -servername NAME`, HOSTS, USER, TARGET.", &t),
            "`dig 2001:db8::1`, `openssl s_client -connect 2001:db8::1:993 -servername imap.example.com`, HOSTS, USER, nas."
        );
        assert_eq!(
            for_target_values("ホスト HOST を確認", &t),
            "ホスト 2001:db8::1 を確認"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALES: [Locale; 2] = [Locale::En, Locale::Ja];

    fn has_japanese(s: &str) -> bool {
        s.chars()
            .any(|c| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}'))
    }

    /// Every text the module can produce: the generic one and each provider's, per reason.
    fn every_text() -> Vec<(Reason, Provider, Locale, String)> {
        let mut all = Vec::new();
        for &reason in Reason::ALL {
            for provider in Provider::ALL {
                for locale in LOCALES {
                    let text = remediation(reason, Some(provider.as_str()), locale);
                    all.push((reason, provider, locale, text));
                }
            }
        }
        all
    }

    #[test]
    fn every_reason_has_a_text_in_both_languages() {
        for &reason in Reason::ALL {
            for provider in [
                None,
                Some("custom"),
                Some("gmail"),
                Some("office365"),
                Some("nonsense"),
            ] {
                let en = remediation(reason, provider, Locale::En);
                let ja = remediation(reason, provider, Locale::Ja);
                assert!(
                    en.trim().len() > 40,
                    "{reason} {provider:?}: English too short: {en:?}"
                );
                assert!(
                    ja.trim().chars().count() > 20,
                    "{reason} {provider:?}: Japanese too short"
                );
                assert!(
                    has_japanese(&ja),
                    "{reason} {provider:?}: Japanese text has no Japanese"
                );
                // Chinese menu names (设置, 授权码) are quoted as they appear; kana never are.
                assert!(
                    !en.chars().any(|c| matches!(c, '\u{3040}'..='\u{30ff}')),
                    "{reason} {provider:?}: English text contains Japanese"
                );
                assert_ne!(en, ja);
            }
        }
    }

    #[test]
    fn no_text_is_a_placeholder() {
        for (reason, provider, locale, text) in every_text() {
            for bad in [
                "TODO",
                "FIXME",
                "XXX",
                "TBD",
                "lorem",
                "See the mailbeat documentation",
            ] {
                assert!(
                    !text.contains(bad),
                    "{reason} {provider:?} {locale:?} contains {bad:?}: {text}"
                );
            }
            assert!(
                !text.contains("  "),
                "{reason} {provider:?} {locale:?}: double space: {text}"
            );
            assert_eq!(
                text.matches('`').count() % 2,
                0,
                "{reason} {provider:?} {locale:?}: unbalanced `"
            );
        }
    }

    #[test]
    fn provider_specific_texts_differ_from_the_generic_ones() {
        use Reason::*;
        let key_cases = [
            (
                AuthAppPasswordRequired,
                "gmail",
                "myaccount.google.com/apppasswords",
            ),
            (AuthAppPasswordRequired, "icloud", "App-Specific Passwords"),
            (AuthAppPasswordRequired, "yahoo", "Generate app password"),
            (AuthAppPasswordRequired, "zoho", "App Passwords"),
            (AuthAppPasswordRequired, "netease", "授权码"),
            (AuthAppPasswordRequired, "outlook", "OAuth2"),
            (
                AuthProtocolDisabled,
                "office365",
                "Set-CASMailbox -Identity USER -SmtpClientAuthenticationDisabled $false",
            ),
            (
                AuthProtocolDisabled,
                "office365",
                "Set-TransportConfig -SmtpClientAuthenticationDisabled $false",
            ),
            (
                AuthProtocolDisabled,
                "office365",
                "Set-CASMailbox -Identity USER -ImapEnabled $true",
            ),
            (AuthProtocolDisabled, "gmail", "POP and IMAP access"),
            (AuthProtocolDisabled, "zoho", "IMAP Access"),
            (AuthProtocolDisabled, "netease", "POP3/SMTP/IMAP"),
            (AuthBasicAuthDisabled, "office365", "mailbeat reauth TARGET"),
            (AuthWebLoginRequired, "gmail", "accounts.google.com"),
            (AuthBadCredentials, "icloud", "appleid.apple.com"),
            (AuthTooManyAttempts, "yahoo", "#AUTH005"),
            (AuthMfaRequired, "m365", "security defaults"),
            (
                AuthConditionalAccessBlocked,
                "microsoft365",
                "Conditional Access",
            ),
            (OauthRefreshTokenExpired, "gmail", "7 days"),
            (OauthRefreshTokenExpired, "gmail", "In production"),
            (OauthRefreshTokenExpired, "office365", "90 days"),
            (OauthRefreshTokenRevoked, "gmail", "100 refresh tokens"),
            (OauthRefreshTokenRevoked, "office365", "Revoke sessions"),
            (
                OauthClientSecretExpired,
                "gmail",
                "Google Auth Platform → Clients",
            ),
            (OauthInvalidClient, "outlook", "AADSTS700016"),
            (OauthTokenExpiring, "office365", "sign-in frequency"),
            (
                OauthEndpointError,
                "gmail",
                "oauth2.googleapis.com on port 443",
            ),
            (
                OauthEndpointError,
                "office365",
                "login.microsoftonline.com on port 443",
            ),
            (OauthConsentRequired, "office365", "Grant admin consent"),
            (OauthClientSecretExpired, "office365", "AADSTS7000222"),
            (StarttlsRequired, "gmail", "smtp.gmail.com"),
            (TlsCertExpired, "gmail", "clock"),
        ];
        for (reason, provider, needle) in key_cases {
            let generic_en = remediation(reason, None, Locale::En);
            let specific_en = remediation(reason, Some(provider), Locale::En);
            assert_ne!(
                generic_en, specific_en,
                "{reason}@{provider} is the generic text"
            );
            assert!(
                specific_en.contains(needle),
                "{reason}@{provider} lacks {needle:?}: {specific_en}"
            );
            let generic_ja = remediation(reason, None, Locale::Ja);
            let specific_ja = remediation(reason, Some(provider), Locale::Ja);
            assert_ne!(
                generic_ja, specific_ja,
                "{reason}@{provider} (ja) is the generic text"
            );
        }
    }

    #[test]
    fn commands_and_urls_are_kept_verbatim_in_japanese() {
        for &reason in Reason::ALL {
            for provider in Provider::ALL {
                let en = remediation(reason, Some(provider.as_str()), Locale::En);
                let ja = remediation(reason, Some(provider.as_str()), Locale::Ja);
                for token in en.split_whitespace() {
                    let token = token.trim_matches(|c: char| ",.;:()\"".contains(c));
                    if token.starts_with("https://") || token.starts_with("`mailbeat") {
                        assert!(
                            ja.contains(token),
                            "{reason}@{provider:?}: {token} missing in Japanese"
                        );
                    }
                }
                for command in [
                    "mailbeat reauth TARGET",
                    "Set-CASMailbox",
                    "openssl s_client",
                ] {
                    assert_eq!(
                        en.contains(command),
                        ja.contains(command),
                        "{reason}@{provider:?}: {command}"
                    );
                }
            }
        }
    }

    #[test]
    fn reauth_reasons_tell_how_to_reauthorize() {
        for &reason in Reason::ALL.iter().filter(|r| r.needs_reauth()) {
            for provider in Provider::ALL {
                let en = remediation(reason, Some(provider.as_str()), Locale::En);
                assert!(
                    en.contains("mailbeat reauth TARGET") || en.contains("password_file"),
                    "{reason}@{provider:?} does not say how to re-authorize: {en}"
                );
            }
        }
        assert!(
            remediation(Reason::OauthRefreshTokenRevoked, None, Locale::En).contains("webhook")
        );
    }

    #[test]
    fn oauth_reasons_name_both_ways_to_reauthorize() {
        let command = format!("mailbeat reauth {TARGET_PLACEHOLDER}");
        let link = format!("/reauth/{TARGET_PLACEHOLDER}");
        for &reason in Reason::ALL
            .iter()
            .filter(|r| r.layer() == crate::Layer::Oauth)
        {
            for provider in [
                None,
                Some("gmail"),
                Some("office365"),
                Some("outlook"),
                Some("icloud"),
            ] {
                for locale in LOCALES {
                    let text = remediation(reason, provider, locale);
                    assert!(
                        text.contains(&command),
                        "{reason}@{provider:?} {locale:?}: no {command}"
                    );
                    assert!(
                        text.contains(&link),
                        "{reason}@{provider:?} {locale:?}: no {link}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_target_fills_in_the_command_and_the_link() {
        let text = remediation(Reason::OauthRefreshTokenExpired, Some("gmail"), Locale::Ja);
        let filled = for_target(&text, "nas-gmail");
        assert!(filled.contains("`mailbeat reauth nas-gmail`"), "{filled}");
        assert!(filled.contains("/reauth/nas-gmail"), "{filled}");
        assert!(!filled.contains(TARGET_PLACEHOLDER));
    }

    #[test]
    fn provider_names_are_normalized() {
        for name in [
            "outlook",
            "office365",
            "Office365",
            "microsoft365",
            "m365",
            " Microsoft-365 ",
            "hotmail",
        ] {
            assert_eq!(
                Provider::from_preset(Some(name)),
                Provider::Microsoft,
                "{name}"
            );
        }
        for name in ["gmail", "GMAIL", "google", "google-workspace"] {
            assert_eq!(Provider::from_preset(Some(name)), Provider::Gmail, "{name}");
        }
        for name in ["netease", "163", "126.com"] {
            assert_eq!(
                Provider::from_preset(Some(name)),
                Provider::Netease,
                "{name}"
            );
        }
        assert_eq!(Provider::from_preset(Some("yahoo")), Provider::Yahoo);
        assert_eq!(Provider::from_preset(Some("zoho")), Provider::Zoho);
        assert_eq!(Provider::from_preset(Some("icloud")), Provider::Icloud);
        for name in [
            None,
            Some("custom"),
            Some(""),
            Some("mail.example.com"),
            Some("日本"),
        ] {
            assert_eq!(Provider::from_preset(name), Provider::Custom, "{name:?}");
        }
        for provider in Provider::ALL {
            assert_eq!(Provider::from_preset(Some(provider.as_str())), provider);
        }
        // Aliases give the same text as the canonical name.
        assert_eq!(
            remediation(Reason::AuthProtocolDisabled, Some("outlook"), Locale::Ja),
            remediation(Reason::AuthProtocolDisabled, Some("office365"), Locale::Ja)
        );
    }
}
