// Self-tests that answer back, with no mdBook plugin: book.toml loads this file
// with `additional-js`. A chapter's Self-test section wraps each question in
//
//     <div class="self-test" data-answer="2">   (the right choice, counted from 1)
//     question, then a Markdown list of choices, then
//     <details><summary>Answer</summary> explanation </details>
//     </div>
//
// A multiple-choice question has `data-answer` and a list; the script turns the
// choices into buttons, says in words whether the one clicked is right, and opens
// the explanation. An open question has neither; the script adds one button that
// opens the explanation once the reader has decided. Without JavaScript nothing
// changes: the choices are a plain list and the explanation stays folded.
(function () {
  "use strict";

  // What to say when choice `picked` (counted from 1) is clicked and `answer` is
  // right; `rightText` is the right choice's text. No DOM, so node can test it.
  function verdict(picked, answer, rightText) {
    if (picked === answer) {
      return { right: true, text: "Right. The explanation is open below." };
    }
    return {
      right: false,
      text: "Not right. The answer is \u201c" + rightText + "\u201d; see why below.",
    };
  }

  function child(block, tag) {
    for (var i = 0; i < block.children.length; i++) {
      if (block.children[i].tagName === tag) {
        return block.children[i];
      }
    }
    return null;
  }

  function button(label) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "self-test-button";
    if (label) {
      b.textContent = label;
    }
    return b;
  }

  function setUp(block) {
    var details = child(block, "DETAILS");
    if (!details) {
      return;
    }
    var status = document.createElement("p");
    status.className = "self-test-verdict";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");

    var list = child(block, "UL") || child(block, "OL");
    var answer = parseInt(block.getAttribute("data-answer"), 10);
    if (!list || !(answer >= 1 && answer <= list.children.length)) {
      var reveal = button("I have decided: show the answer");
      reveal.addEventListener("click", function () {
        details.open = true;
        status.textContent = "Compare your answer with the one below.";
      });
      block.insertBefore(reveal, details);
      block.insertBefore(status, details);
      return;
    }

    block.classList.add("self-test-choice");
    var items = Array.prototype.slice.call(list.children);
    var rightText = items[answer - 1].textContent.trim();
    items.forEach(function (item, index) {
      var b = button("");
      while (item.firstChild) {
        b.appendChild(item.firstChild);
      }
      var mark = document.createElement("span");
      mark.className = "self-test-mark";
      item.appendChild(b);
      item.appendChild(mark);
      b.addEventListener("click", function () {
        var said = verdict(index + 1, answer, rightText);
        items.forEach(function (other, j) {
          other.classList.remove("self-test-right", "self-test-wrong");
          other.lastChild.textContent = "";
          if (j === answer - 1) {
            other.classList.add("self-test-right");
            other.lastChild.textContent = j === index ? "your choice: right" : "the right answer";
          }
        });
        if (!said.right) {
          item.classList.add("self-test-wrong");
          mark.textContent = "your choice: wrong";
        }
        status.textContent = said.text;
        status.className = "self-test-verdict " + (said.right ? "self-test-right" : "self-test-wrong");
        details.open = true;
      });
    });
    list.classList.add("self-test-choices");
    block.insertBefore(status, details);
  }

  if (typeof document !== "undefined") {
    var run = function () {
      Array.prototype.forEach.call(document.querySelectorAll("div.self-test"), setUp);
    };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", run);
    } else {
      run();
    }
  }
  if (typeof module !== "undefined") {
    module.exports = { verdict: verdict };
  }
})();
