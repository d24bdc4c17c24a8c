//! Verified contacts: adding an e-mail address or mobile, sending a 6-digit code through its channel, checking it (issue 12; owned by the contacts/delivery work).
