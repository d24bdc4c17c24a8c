//! The delivery workers: claim due deliveries, send them by SMTP or the SMS webhook, record every attempt, back off and give up (issue 12).
