"""A headless Chromium loads a page with 20 sub-resources over HTTPS: every one of them comes
over HTTP/2, through one connection."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness as h

SUB_RESOURCES = 20


class browser(unittest.TestCase):
    def test_page_with_twenty_sub_resources_loads_through_one_connection(self):
        chromium = shutil.which("chromium")
        self.assertIsNotNone(chromium, "chromium is not installed (packaging/install-deps.sh test)")
        daemon = h.Daemon()
        profile = tempfile.mkdtemp(prefix="hello-async-chromium-")
        try:
            files = os.path.join(daemon.dir, "files")
            images = "".join(f'<img src="/files/dot{i}.svg" alt="">' for i in range(SUB_RESOURCES))
            with open(os.path.join(files, "page.html"), "w", encoding="utf-8") as f:
                f.write(f"<!DOCTYPE html><title>page</title><body>{images}</body>\n")
            for i in range(SUB_RESOURCES):
                with open(os.path.join(files, f"dot{i}.svg"), "w", encoding="utf-8") as f:
                    f.write('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
                            f'<rect width="4" height="4" fill="#{i * 12:02x}0000"/></svg>\n')
            start = len(daemon.lines)
            url = f"https://localhost:{daemon.tls_port}/files/page.html"
            result = subprocess.run(
                [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--ignore-certificate-errors", "--no-first-run", "--disable-extensions",
                 f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url],
                capture_output=True, text=True, timeout=120, check=False)
            self.assertIn("<title>page</title>", result.stdout, result.stderr[-2000:])
            # The page and all its images, each logged once the stream has ended.
            pattern = r"GET /files/(page\.html|dot\d+\.svg) HTTP/2 200 \d+ \S+ (\S+)"
            for i in range(SUB_RESOURCES):
                daemon.wait_for_log(rf"GET /files/dot{i}\.svg HTTP/2 200 ", start=start)
            entries = [re.search(pattern, line) for line in daemon.lines[start:]]
            entries = [m for m in entries if m]
            self.assertEqual(len(entries), SUB_RESOURCES + 1, "\n".join(daemon.lines[start:]))
            peers = {m.group(2) for m in entries}
            self.assertEqual(len(peers), 1, f"more than one connection: {peers}")
        finally:
            daemon.stop()
            shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
