// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title WorkToken
/// @notice The transferable work token (CVW). Verifiers lock it in the VerifierRegistry (its
///         staked form) to vote; when a verdict is escalated, holders choose the fork they
///         redeem into (ForkManager). The whole supply is allocated at deployment and no
///         function can mint more: a fork moves, locks or burns existing tokens, it never
///         creates any.
contract WorkToken is ERC20 {
    error AllocationMismatch(uint256 holders, uint256 amounts);

    constructor(address[] memory holders, uint256[] memory amounts) ERC20("Covenant Work", "CVW") {
        if (holders.length != amounts.length) revert AllocationMismatch(holders.length, amounts.length);
        for (uint256 i; i < holders.length; ++i) _mint(holders[i], amounts[i]);
    }
}
