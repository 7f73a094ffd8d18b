"""Sending one report: Amazon SES (v2 API) by default, Gmail or any SMTP server if set."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    html: str
    text: str


class Mailer(Protocol):
    name: str

    def send(self, message: Message) -> str:
        """Send; return the message id the service gave it. Raises on failure."""


@dataclass
class SesMailer:
    """Amazon SES through the v2 API (SendEmail with simple content, UTF-8)."""

    client: Any  # boto3 "sesv2" client
    name: str = "ses"

    def send(self, message: Message) -> str:
        response = self.client.send_email(
            FromEmailAddress=message.sender,
            Destination={"ToAddresses": list(message.recipients)},
            Content={
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Html": {"Data": message.html, "Charset": "UTF-8"},
                        "Text": {"Data": message.text, "Charset": "UTF-8"},
                    },
                }
            },
        )
        return str(response.get("MessageId", ""))


@dataclass
class SmtpMailer:
    """SMTP with STARTTLS and login, e.g. smtp.gmail.com:587 with an app password."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 30.0
    name: str = "smtp"

    def send(self, message: Message) -> str:
        email = EmailMessage()
        email["From"] = message.sender
        email["To"] = ", ".join(message.recipients)
        email["Subject"] = message.subject
        # RFC 5322 requires Date; some servers add it, Gmail's SMTP relay does not.
        email["Date"] = formatdate(usegmt=True)
        # The domain of the address itself: the sender is often '부서 캘린더 <a@b.com>', whose
        # text after the @ ends in '>', which made the id '<…@b.com>>'.
        address = parseaddr(message.sender)[1]
        email["Message-ID"] = message_id = make_msgid(domain=address.rpartition("@")[2] or None)
        email.set_content(message.text, charset="utf-8")
        email.add_alternative(message.html, subtype="html", charset="utf-8")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(email)
        return message_id


def sender_address(address: str, display_name: str = "부서 캘린더") -> str:
    """``부서 캘린더 <calendar@example.com>``, encoded as RFC 2047 requires."""
    return formataddr((display_name, address))
