//! The one place where use-case errors become HTTP errors: each area's error enum maps to an
//! [`AppError`] with its status, stable `code` and Chinese message.

use crate::app::schedule::ScheduleError;
use crate::app::signup::SignupError;
use crate::error::AppError;

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
