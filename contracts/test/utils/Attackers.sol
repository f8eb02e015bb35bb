// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {BondVault} from "../../src/BondVault.sol";

/// @notice An agent owner / credit holder whose receive() re-enters the vault once. With
///         `swallow` it catches the re-entry's revert so the outer transfer succeeds and
///         the test can check that nothing was paid twice.
contract ReenteringReceiver {
    enum Target {
        None,
        Withdraw,
        Claim,
        RequestThenWithdraw
    }

    BondVault public immutable vault;
    uint256 public agentId;
    Target public target;
    bool public swallow;
    uint256 public received;
    uint256 public calls;
    bytes public reentryError;
    bool public reentrySucceeded;

    constructor(BondVault vault_) {
        vault = vault_;
    }

    function arm(uint256 agentId_, Target target_, bool swallow_) external {
        agentId = agentId_;
        target = target_;
        swallow = swallow_;
    }

    receive() external payable {
        received += msg.value;
        calls += 1;
        if (calls > 1 || target == Target.None) return;
        if (swallow) {
            try this.reenter() {
                reentrySucceeded = true;
            } catch (bytes memory e) {
                reentryError = e;
            }
        } else {
            this.reenter();
            reentrySucceeded = true;
        }
    }

    /// @dev External so its revert can be caught; only this contract calls it.
    function reenter() external {
        require(msg.sender == address(this), "self only");
        if (target == Target.Withdraw) {
            vault.withdraw(agentId);
        } else if (target == Target.Claim) {
            vault.claim();
        } else if (target == Target.RequestThenWithdraw) {
            // ask again for what is left, then try to take it in the same transaction
            uint256 left = vault.bondOf(agentId).eth;
            if (left != 0) vault.requestWithdraw(agentId, left, 0);
            vault.withdraw(agentId);
        }
    }
}

/// @notice A receiver that refuses ETH.
contract RejectingReceiver {
    receive() external payable {
        revert("no thanks");
    }
}

/// @notice A token that burns 1% of every transfer, to show the vault credits what arrived.
contract FeeToken is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}
