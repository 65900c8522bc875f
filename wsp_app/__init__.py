"""WSP Studio's desktop application (PySide6). Talks to wsp_core; wsp_core never imports it."""
