//! The one place where use-case errors become HTTP errors: one `From` impl per area, so the
//! statuses, codes and Chinese messages clients see are decided here and nowhere else.

use crate::app::accounts::AccountsError;
use crate::app::archive::ArchiveError;
use crate::app::audit::AuditError;
use crate::app::checkup::CheckupError;
use crate::app::claims::ClaimsError;
use crate::app::live::view::LiveError;
use crate::app::login::LoginError;
use crate::app::media::MediaError;
use crate::app::notify::NotifyError;
use crate::app::qa::QaError;
use crate::app::schedule::ScheduleError;
use crate::app::self_service::SelfServiceError;
use crate::app::signup::SignupError;
use crate::error::AppError;

impl From<LoginError> for AppError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid(errors) => AppError::Validation(errors),
            LoginError::BadCredentials => AppError::BadCredentials,
            LoginError::Disabled => AppError::conflict("account_disabled", LoginError::DISABLED_ZH),
            LoginError::Throttled { retry_after_s } => AppError::TooManyRequests {
                retry_after_s,
                message: LoginError::throttled_message_zh(retry_after_s),
            },
            LoginError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<AccountsError> for AppError {
    fn from(e: AccountsError) -> Self {
        let message = e.message_zh();
        match e {
            AccountsError::Invalid(errors) => AppError::Validation(errors),
            AccountsError::MobileTaken => AppError::conflict("mobile_taken", message),
            AccountsError::UsccTaken { .. } => AppError::conflict("uscc_taken", message),
            AccountsError::Forbidden => AppError::Forbidden,
            AccountsError::NotFound => AppError::NotFound,
            AccountsError::UsernameTaken => AppError::conflict("username_taken", message),
            AccountsError::DisableSelf => AppError::conflict("disable_self", message),
            AccountsError::LastOrganizer => AppError::conflict("last_organizer", message),
            AccountsError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<CheckupError> for AppError {
    fn from(e: CheckupError) -> Self {
        match e {
            CheckupError::Forbidden => AppError::Forbidden,
            CheckupError::NotFound => AppError::NotFound,
            CheckupError::Invalid(errors) => AppError::Validation(errors),
            CheckupError::ConsentRequired => {
                AppError::conflict("consent_required", CheckupError::consent_required_zh())
            }
            CheckupError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<ScheduleError> for AppError {
    fn from(e: ScheduleError) -> Self {
        let message = e.message_zh();
        match e {
            ScheduleError::NotFound => AppError::NotFound,
            ScheduleError::Invalid(errors) => AppError::Validation(errors),
            ScheduleError::Conflicts(_) => AppError::conflict("schedule_conflict", message),
            ScheduleError::SessionCancelled => AppError::conflict("session_cancelled", message),
            ScheduleError::CapacityBelowConfirmed { .. } => {
                AppError::conflict("capacity_below_confirmed", message)
            }
            ScheduleError::CalendarBreaks(_) => {
                AppError::conflict("program_change_breaks_sessions", message)
            }
            ScheduleError::ProgramInUse { .. } => AppError::conflict("program_in_use", message),
            ScheduleError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<SignupError> for AppError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::Forbidden => AppError::Forbidden,
            SignupError::NotFound => AppError::NotFound,
            SignupError::Refused(refusal, tz) => {
                AppError::conflict(refusal.code(), refusal.message_zh(tz))
            }
            SignupError::Invalid(errors) => AppError::Validation(errors),
            SignupError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<MediaError> for AppError {
    fn from(e: MediaError) -> Self {
        let message = e.message_zh();
        match e {
            MediaError::NotFound => AppError::NotFound,
            MediaError::UploadTooLarge => AppError::PayloadTooLarge,
            MediaError::UploadInterrupted => AppError::bad_request("upload_interrupted", message),
            MediaError::EmptyUpload | MediaError::NoFile => AppError::field("file", message),
            MediaError::JobNotFailed => AppError::conflict("job_not_failed", message),
            MediaError::SessionCancelled => AppError::conflict("session_cancelled", message),
            MediaError::TranscodeRunning => AppError::conflict("transcode_running", message),
            MediaError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<ArchiveError> for AppError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::NotFound => AppError::NotFound,
            ArchiveError::LoginRequired => AppError::Unauthorized,
            ArchiveError::NotEnrolled => AppError::Forbidden,
            ArchiveError::Forbidden => AppError::Forbidden,
            ArchiveError::Invalid(errors) => AppError::Validation(errors),
            ArchiveError::NotAttended(refusal) => {
                AppError::conflict("not_attended", refusal.message_zh())
            }
            ArchiveError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<LiveError> for AppError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NotFound => AppError::NotFound,
            LiveError::LoginRequired => AppError::Unauthorized,
            LiveError::NotEnrolled | LiveError::Forbidden => AppError::Forbidden,
            LiveError::UnknownPosition => {
                AppError::field("playing_date", LiveError::unknown_position_zh())
            }
            LiveError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<NotifyError> for AppError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Forbidden => AppError::Forbidden,
            NotifyError::NotFound => AppError::NotFound,
            NotifyError::Invalid(errors) => AppError::Validation(errors),
            NotifyError::Throttled { retry_after_s } => AppError::TooManyRequests {
                retry_after_s,
                message: NotifyError::throttled_message_zh(retry_after_s),
            },
            NotifyError::BadCode => AppError::conflict("bad_code", NotifyError::bad_code_zh()),
            NotifyError::ChannelUnavailable(channel) => AppError::conflict(
                "channel_unavailable",
                NotifyError::channel_unavailable_zh(channel),
            ),
            NotifyError::SendFailed(channel) => AppError::Unavailable {
                code: "send_failed",
                message: NotifyError::send_failed_zh(channel),
            },
            NotifyError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<AuditError> for AppError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Forbidden => AppError::Forbidden,
            AuditError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<SelfServiceError> for AppError {
    fn from(e: SelfServiceError) -> Self {
        let message = e.message_zh();
        match e {
            SelfServiceError::Invalid(errors) => AppError::Validation(errors),
            SelfServiceError::Throttled { retry_after_s } => AppError::TooManyRequests {
                retry_after_s,
                message,
            },
            SelfServiceError::BadCode => AppError::conflict("bad_code", message),
            SelfServiceError::ChannelUnavailable(_) => {
                AppError::conflict("channel_unavailable", message)
            }
            SelfServiceError::MobileTaken => AppError::conflict("mobile_taken", message),
            SelfServiceError::WrongPassword => AppError::conflict("wrong_password", message),
            SelfServiceError::StaffAccount => AppError::conflict("staff_account", message),
            SelfServiceError::Forbidden => AppError::Forbidden,
            SelfServiceError::Notify(e) => AppError::from(e),
            SelfServiceError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<ClaimsError> for AppError {
    fn from(e: ClaimsError) -> Self {
        let message = e.message_zh();
        match e {
            ClaimsError::Invalid(errors) => AppError::Validation(errors),
            ClaimsError::NotRegistered => AppError::field("uscc", message),
            ClaimsError::AlreadyOpen => AppError::conflict("claim_open", message),
            ClaimsError::Throttled { retry_after_s } => AppError::TooManyRequests {
                retry_after_s,
                message,
            },
            ClaimsError::Forbidden => AppError::Forbidden,
            ClaimsError::NotFound => AppError::NotFound,
            ClaimsError::NotPending => AppError::conflict("claim_decided", message),
            ClaimsError::MobileTaken => AppError::conflict("mobile_taken", message),
            ClaimsError::CodeMoved => AppError::conflict("claim_code_moved", message),
            ClaimsError::LinkUsed => AppError::conflict("setup_link_used", message),
            ClaimsError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<QaError> for AppError {
    fn from(e: QaError) -> Self {
        match e {
            QaError::Forbidden => AppError::Forbidden,
            QaError::NotFound => AppError::NotFound,
            QaError::Invalid(errors) => AppError::Validation(errors),
            QaError::Conflict { code, message } => AppError::conflict(code, message),
            QaError::Throttled { retry_after_s } => AppError::TooManyRequests {
                retry_after_s,
                message: QaError::throttled_message_zh(retry_after_s),
            },
            QaError::Internal(e) => AppError::Internal(e),
        }
    }
}
